"""`tandem support on|off|status`: starting and stopping the tunnel's daemon (OP-7).

`on` starts `tandem support run` detached (its own session, output to
/var/log/tandem/support.log) and waits a little for the tunnel; `off` sends it SIGTERM
(found by its pid file, and only if that pid really is a support daemon), and it closes
the tunnel and records that.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tandem.rootdir import Root
from tandem.support.tunnel import Files, State, ensure_key, read_state, setup


def daemon_pid(root: Root) -> int | None:
    """The running support daemon's pid, or None (a stale pid file is ignored)."""
    try:
        pid = int(Files.of(root).pid.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid if b"support" in cmdline and b"run" in cmdline else None


def switch_on(root: Root, wait: float = 15.0) -> State | None:
    cfg, _ = setup(root)
    ensure_key(root, cfg.cluster.name)
    if daemon_pid(root) is None:
        files = Files.of(root)
        files.log.parent.mkdir(parents=True, exist_ok=True)
        files.state.unlink(missing_ok=True)
        with files.log.open("ab") as out:
            subprocess.Popen(
                [sys.executable, "-m", "tandem", "support", "run", "--root", str(root.base)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                close_fds=True,
            )  # fmt: skip
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        state = read_state(root)
        if state is not None and state.state == "up":
            return state
        time.sleep(0.2)
    return read_state(root)


def switch_off(root: Root, timeout: float = 10.0) -> bool:
    """Stop the daemon; False if it was not running."""
    pid = daemon_pid(root)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon_pid(root) is None or not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True
