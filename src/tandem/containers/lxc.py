"""The container runtime: LXC through its command-line tools (lxc-start, lxc-attach, ...).

The tools rather than the liblxc Python bindings, for three reasons: the bindings are not
packaged for Debian 12 and would have to be built against liblxc; liblxc forks and
daemonizes inside the calling process, which does not mix with a multi-threaded or
asyncio Python process such as the web; and each tool call is a separate process that
cannot take tandem down with it, whose command line an operator can copy and run by hand.
Each call costs a few milliseconds, which is nothing next to what the calls do.

Every call names the lxcpath (/vz/lxc) explicitly, so nothing depends on the node's
/etc/lxc.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tandem.containers.errors import ContainerError
from tandem.system.run import run

ENV_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
STOP_TIMEOUT = 30


class Lxc:
    def __init__(self, lxcpath: Path) -> None:
        self.lxcpath = lxcpath

    def _args(self, veid: int) -> list[str]:
        return ["-n", str(veid), "-P", str(self.lxcpath)]

    def state(self, veid: int) -> str:
        """RUNNING, STOPPED, FROZEN, STARTING, STOPPING, ABORTING, FREEZING or THAWED."""
        result = run(["lxc-info", *self._args(veid), "-s", "-H"], check=False)
        if result.returncode != 0:
            return "STOPPED"
        return result.stdout.strip() or "STOPPED"

    def init_pid(self, veid: int) -> int | None:
        result = run(["lxc-info", *self._args(veid), "-p", "-H"], check=False)
        text = result.stdout.strip()
        return int(text) if result.returncode == 0 and text.isdigit() else None

    def start(self, veid: int, log: Path) -> None:
        """Start in the background and wait until init runs; explain a failure."""
        size = log.stat().st_size if log.exists() else 0
        result = run(["lxc-start", *self._args(veid)], check=False, timeout=60)
        if result.returncode != 0 or self.state(veid) != "RUNNING":
            reason = _first_error(log, size) or result.stderr.strip()
            raise ContainerError(f"container {veid} did not start: {reason} (LXC's log: {log})")

    def stop(self, veid: int, timeout: int = STOP_TIMEOUT) -> float:
        """Ask init to halt; kill what is left after `timeout` seconds. Returns seconds."""
        started = time.monotonic()
        run(["lxc-stop", *self._args(veid), "-t", str(timeout)], check=False, timeout=timeout + 30)
        if self.state(veid) != "STOPPED":
            run(["lxc-stop", *self._args(veid), "-k"], check=False, timeout=30)
        if self.state(veid) != "STOPPED":
            raise ContainerError(
                f"container {veid} did not stop; see {self.lxcpath}/{veid}/lxc.log"
            )
        return time.monotonic() - started

    def freeze(self, veid: int) -> None:
        run(["lxc-freeze", *self._args(veid)], timeout=60)

    def unfreeze(self, veid: int) -> None:
        run(["lxc-unfreeze", *self._args(veid)], timeout=60)

    def attach_argv(
        self, veid: int, command: list[str], env: dict[str, str] | None = None
    ) -> list[str]:
        """lxc-attach with a clean environment: the node's variables stay outside; `env`
        adds the command's own (DEBIAN_FRONTEND for apt)."""
        env = {"PATH": ENV_PATH, "HOME": "/root", "TERM": os.environ.get("TERM", "linux"),
               **(env or {})}  # fmt: skip
        argv = ["lxc-attach", *self._args(veid), "--clear-env"]
        for name, value in env.items():
            argv += ["--set-var", f"{name}={value}"]
        if command:
            argv += ["--", *command]
        return argv


def _first_error(log: Path, offset: int) -> str | None:
    """The first ERROR line LXC wrote to `log` after `offset`, without LXC's prefix."""
    try:
        with log.open("rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if " ERROR " in line:
            return line.split(" - ", 2)[-1].strip()
    return None
