"""The support tunnel's daemon, `tandem support run` (OP-7).

It owns one `ssh -N -R <remote port>:127.0.0.1:<local port>` to the configured support
host and restarts it whenever it ends: 1 s after a tunnel that was up ends, and doubling
to 8 s while the host cannot be reached, so a tunnel that dies comes back within 10 s.
ssh itself notices a dead connection by its keepalives (ServerAliveInterval 5 s, three
missed: 15 s). The daemon's
state (connecting, up, down; ssh's pid; reconnects; last error) is in
/run/tandem/support.json for `tandem support status`; every change of state is an event.

Why a daemon of its own, started by `tandem support on`, and not a service of the node
supervisor: support is off by default and on only for a session. A reboot ends the
session (remote access never comes back by itself), and the tunnel works while the
node's supervisor does not, which is when support is needed most.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tandem.config import ClusterConfig, InvalidConfig, NodeId, load_config
from tandem.config.model import SupportSection
from tandem.errors import TandemError
from tandem.eventlog import log as events
from tandem.fsutil import atomic_write
from tandem.rootdir import Root

log = logging.getLogger(__name__)

KEEPALIVE = 5
RETRY_FIRST = 1.0
RETRY_MAX = 8.0
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Files:
    key: Path
    known_hosts: Path
    pid: Path
    state: Path
    log: Path

    @staticmethod
    def of(root: Root) -> Files:
        return Files(
            key=root.secrets / "support_ed25519",
            known_hosts=root.secrets / "support_known_hosts",
            pid=root.run / "support.pid",
            state=root.run / "support.json",
            log=root.log / "support.log",
        )


@dataclass
class State:
    state: str = "starting"  # connecting, up, down, off
    host: str = ""
    remote_port: int = 0
    pid: int = 0  # the daemon
    ssh_pid: int | None = None
    since: float = 0.0
    reconnects: int = 0
    last_error: str = ""


class SupportError(TandemError):
    pass


def setup(root: Root, hostname: str | None = None) -> tuple[ClusterConfig, NodeId]:
    try:
        cfg = load_config(root.config)
    except InvalidConfig as exc:
        raise SupportError(f"the configuration is not usable: {exc}") from None
    host = hostname or socket.gethostname()
    node = cfg.node_by_hostname(host)
    if node is None:
        raise SupportError(f"the configuration names no node with host name {host}")
    if cfg.support.host is None:
        raise SupportError("no support host is configured ([support] host in cluster.toml)")
    return cfg, node


def remote_port(support: SupportSection, node: NodeId) -> int:
    return support.remote_port + (0 if node == "node1" else 1)


def ensure_key(root: Root, cluster: str) -> str:
    """The cluster's support key (made with ssh-keygen on first use); its public half."""
    key = Files.of(root).key
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"tandem-{cluster}-support",
             "-f", str(key)],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        key.chmod(0o600)
    return key.with_name(key.name + ".pub").read_text().strip()


def ssh_argv(root: Root, support: SupportSection, node: NodeId) -> list[str]:
    f = Files.of(root)
    assert support.host is not None
    return [
        "ssh", "-N", "-T", "-v", "-F", "/dev/null",
        "-o", "BatchMode=yes",
        "-o", "ExitOnForwardFailure=yes",
        "-o", f"ServerAliveInterval={KEEPALIVE}",
        "-o", "ServerAliveCountMax=3",
        "-o", "ConnectTimeout=10",
        "-o", "StrictHostKeyChecking=accept-new",
        "-o", f"UserKnownHostsFile={f.known_hosts}",
        "-o", "IdentitiesOnly=yes",
        "-i", str(f.key),
        "-p", str(support.port),
        "-R", f"{remote_port(support, node)}:127.0.0.1:{support.local_port}",
        f"{support.user}@{support.host}",
    ]  # fmt: skip


def read_state(root: Root) -> State | None:
    try:
        return State(**json.loads(Files.of(root).state.read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None


def _die_with_parent() -> None:
    """ssh ends when the daemon does, even if the daemon is killed (no orphan tunnel)."""
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class Tunnel:
    def __init__(self, root: Root, hostname: str | None = None) -> None:
        self.root = root
        self.files = Files.of(root)
        self.cfg, self.node = setup(root, hostname)
        self.support = self.cfg.support
        self.state = State(
            host=f"{self.support.user}@{self.support.host}:{self.support.port}",
            remote_port=remote_port(self.support, self.node),
            pid=os.getpid(),
        )
        self.proc: asyncio.subprocess.Process | None = None

    def _save(self) -> None:
        atomic_write(self.files.state, json.dumps(asdict(self.state)) + "\n", 0o644)

    def _set(self, state: str, error: str = "") -> None:
        if state != self.state.state:
            self.state.since = time.time()
        self.state.state = state
        if error:
            self.state.last_error = error
        self._save()

    def _event(self, sentence: str, severity: str = "info") -> None:
        log.info("%s", sentence)
        with contextlib.suppress(OSError):
            events.record(self.node, "support", sentence, severity=severity,
                          details={"host": self.state.host,
                                   "remote_port": self.state.remote_port},
                          path=self.root.state / "events.jsonl")  # fmt: skip

    async def run(self, stop: asyncio.Event) -> None:
        self.files.pid.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.files.pid, f"{os.getpid()}\n", 0o644)
        self._event(
            f"remote support switched on: tunnel to {self.state.host}, port "
            f"{self.state.remote_port} there leads to this node's SSH",
            "warning",
        )
        delay = RETRY_FIRST
        try:
            while not stop.is_set():
                up_for = await self._one_connection(stop)
                if stop.is_set():
                    break
                self.state.reconnects += 1
                self._save()
                if up_for > 0:  # it was up: back at once; only a host out of reach backs off
                    delay = RETRY_FIRST
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, RETRY_MAX)
        finally:
            await self._end_ssh()
            self.state.ssh_pid = None
            self._set("off")
            self._event("remote support switched off: the tunnel is closed")
            self.files.pid.unlink(missing_ok=True)

    async def _one_connection(self, stop: asyncio.Event) -> float:
        """Run ssh once; return how long the tunnel was up (0 if it never came up)."""
        self._set("connecting")
        self.proc = await asyncio.create_subprocess_exec(
            *ssh_argv(self.root, self.support, self.node),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, preexec_fn=_die_with_parent,
        )  # fmt: skip
        self.state.ssh_pid = self.proc.pid
        self._save()
        up_at: float | None = None
        last = ""
        assert self.proc.stderr is not None
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while True:
                reading = asyncio.ensure_future(self.proc.stderr.readline())
                await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if stopping.done():
                    reading.cancel()
                    return 0.0 if up_at is None else time.monotonic() - up_at
                line = reading.result().decode(errors="replace").strip()
                if not line:
                    break  # ssh closed stderr: it is ending
                if "remote forward success" in line and up_at is None:
                    up_at = time.monotonic()
                    self._set("up")
                    self._event(f"support tunnel up: {self.state.host} port "
                                f"{self.state.remote_port} (ssh pid {self.proc.pid})")  # fmt: skip
                elif not line.startswith("debug") and not line.startswith("OpenSSH"):
                    last = line
        finally:
            stopping.cancel()
        code = await self.proc.wait()
        error = last or f"ssh ended with exit status {code}"
        self.state.ssh_pid = None
        self._set("down", error)
        if up_at is not None:
            self._event(f"support tunnel down: {error}; connecting again", "warning")
            return time.monotonic() - up_at
        log.info("support tunnel not up: %s", error)
        return 0.0

    async def _end_ssh(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
