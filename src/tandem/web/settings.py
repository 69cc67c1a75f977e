"""Where the web finds its files and who it is, as one value passed to the app.

Production uses the real paths (/etc/tandem, /var/lib/tandem, /run/tandem); tests and the
benchmark point the same code at temporary directories. Nothing here asks whether it runs
in the lab: the lab binds per-node directories over these paths.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

from tandem import paths
from tandem.config import ClusterConfig, NodeId, load_config
from tandem.config.secrets import SecretPaths
from tandem.errors import ConfigError
from tandem.web.updates import KINDS


@dataclass(frozen=True)
class WebSettings:
    etc_dir: Path = paths.ETC_DIR
    state_dir: Path = paths.STATE_DIR / "web"
    run_dir: Path = paths.RUN_DIR
    node: NodeId | None = None  # None: found by host name, as the supervisor does
    vz_dir: Path = paths.VZ_DIR  # the containers' filesystem (tandem.containers.Layout)
    system_root: Path = Path("/")  # where chpasswd changes root passwords (chroot if not /)
    # The remote support tunnel's files (tandem.rootdir.Root: its etc/tandem, run/tandem,
    # ...), as `tandem support --root`; tests give a scratch root so that no switch of
    # theirs reaches this machine's support daemon.
    support_root: Path = Path("/")
    support_wait: float = 15.0  # how long "switch on" waits for the tunnel to come up
    peer_timeout: float = 5.0
    status_interval: float = 1.0
    # The commands behind "check for updates" and "install updates" (updates.KINDS);
    # tests that must not touch this machine's packages give harmless ones.
    apt_commands: dict[str, list[str]] = field(default_factory=lambda: dict(KINDS))
    apt_env: dict[str, str] = field(
        default_factory=lambda: {"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    )
    # The node's event log (tandem.eventlog), where the web records what the operator is
    # mailed about (updates installed, NT-1). None: beside the state directory, which in
    # production is /var/lib/tandem/events.jsonl, and in a test its own scratch file.
    events_file: Path | None = None

    @property
    def config_file(self) -> Path:
        return self.etc_dir / "cluster.toml"

    @property
    def event_log(self) -> Path:
        return self.events_file or self.state_dir.parent / "events.jsonl"

    @property
    def secrets(self) -> SecretPaths:
        return SecretPaths(self.etc_dir / "secrets")

    @property
    def node_socket(self) -> Path:
        return self.run_dir / paths.NODE_SOCKET.name

    @property
    def membership_socket(self) -> Path:
        return self.run_dir / "membership.sock"

    @property
    def crm_socket(self) -> Path:
        return self.run_dir / "crm.sock"

    @property
    def volume_socket(self) -> Path:
        return self.run_dir / "volume.sock"


def identify(settings: WebSettings) -> tuple[ClusterConfig, NodeId]:
    """The configuration and which node this is; raises ConfigError saying what to fix."""
    cfg = load_config(settings.config_file)
    if settings.node is not None:
        return cfg, settings.node
    hostname = socket.gethostname()
    node = cfg.node_by_hostname(hostname)
    if node is None:
        raise ConfigError(
            f"this host is called {hostname!r}, but {settings.config_file} names node1 "
            f"{cfg.node1.hostname!r} and node2 {cfg.node2.hostname!r}"
        )
    return cfg, node
