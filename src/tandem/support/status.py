"""The remote support connection's state, as `tandem support status` and the Maintenance
page show it: one reading of the configuration, the daemon's pid file and its state file.
"""

from __future__ import annotations

from typing import Any

from tandem.config import InvalidConfig, load_config
from tandem.errors import TandemError
from tandem.rootdir import Root
from tandem.support import control
from tandem.support.tunnel import Files, read_state, remote_port, setup


def describe(root: Root) -> dict[str, Any]:
    """What `tandem support status` tells, plus whether a support host is configured.

    {"configured", "config", "on", "state"} always; with a support host also "host",
    "port", "user", "remote_port", "local_port", "public_key"; when on "pid", "since",
    "reconnects", "last_error"; "problem" when the configuration is not usable here.
    """
    info: dict[str, Any] = {
        "configured": False, "config": str(root.config), "on": False, "state": "off",
    }  # fmt: skip
    try:
        cfg = load_config(root.config)
    except InvalidConfig as exc:
        info["problem"] = f"the configuration is not usable: {exc}"
        return info
    s = cfg.support
    if s.host is None:
        return info
    info["configured"] = True
    info |= {"host": s.host, "port": s.port, "user": s.user, "local_port": s.local_port}
    try:
        _, node = setup(root)
    except TandemError as exc:
        info["problem"] = str(exc)
    else:
        info["remote_port"] = remote_port(s, node)
    public = Files.of(root).key.with_name("support_ed25519.pub")
    try:
        info["public_key"] = public.read_text().strip()
    except OSError:
        info["public_key"] = None
    pid = control.daemon_pid(root)
    state = read_state(root)
    if pid is not None and state is not None:
        info |= {"on": True, "pid": pid, "state": state.state, "ssh_pid": state.ssh_pid,
                 "since": state.since, "reconnects": state.reconnects,
                 "last_error": state.last_error}  # fmt: skip
    elif pid is not None:
        info |= {"on": True, "pid": pid, "state": "starting"}
    return info
