"""PID 1 of a lab machine: what the firmware, the kernel and systemd do on a real node.

It gives the machine its own /proc and /sys, its own disk at the production paths (bind
mounts from the lab's per-node directories), the serial cable at the configured device,
and its host name; reports ready; waits until the lab has plugged in the network; then
starts the machine's payload (`tandem node run` on a node) and restarts it when it dies,
as systemd's Restart=always would. Killing this process is a crash: the kernel kills
every process of the machine at once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

RESTART_DELAY = 1.0
STOP_GRACE = 10


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


def mount_machine(spec: dict[str, Any]) -> None:
    sh("mount", "-t", "proc", "proc", "/proc")
    run_dir = Path("/run/tandem")
    run_dir.mkdir(parents=True, exist_ok=True)
    sh("mount", "-t", "tmpfs", "-o", "mode=0755", "tandem-run", str(run_dir))
    # A sysfs mounted in this network namespace shows its own interfaces (LXC needs that);
    # the cgroup mounts underneath would be hidden by it, so they are moved across.
    aside = run_dir / ".cgroup"
    aside.mkdir()
    sh("mount", "--rbind", "/sys/fs/cgroup", str(aside))
    sh("mount", "-t", "sysfs", "sysfs", "/sys")
    sh("mount", "--move", str(aside), "/sys/fs/cgroup")
    aside.rmdir()
    for source, target in spec["binds"]:
        src, dst = Path(source), Path(target)
        if src.is_dir() or not src.exists():
            src.mkdir(parents=True, exist_ok=True)
            dst.mkdir(parents=True, exist_ok=True)
        elif not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.touch()
        sh("mount", "--bind", str(src), str(dst))
    serial = spec.get("serial")
    if serial:
        device = Path(serial["device"])
        if not device.exists():
            device.touch()
        sh("mount", "--bind", serial["pty"], str(device))


class Init:
    def __init__(self, payload: list[str] | None, log_path: str | None) -> None:
        self.payload = payload
        self.log_path = log_path
        self.child: int | None = None
        self.stopping = False

    def on_term(self, _sig: int, _frame: FrameType | None) -> None:
        self.stopping = True
        if self.child is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child, signal.SIGTERM)
        signal.alarm(STOP_GRACE)  # a payload that ignores SIGTERM gets killed with us

    def start_payload(self) -> None:
        assert self.payload is not None
        log_fd = os.open(self.log_path or "/dev/null", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            # posix_spawn rather than Popen: this loop reaps with waitpid(-1), which a Popen
            # object would race for its own child.
            self.child = os.posix_spawnp(
                self.payload[0],
                self.payload,
                dict(os.environ),
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, log_fd, 1),
                    (os.POSIX_SPAWN_DUP2, log_fd, 2),
                ],
            )
        finally:
            os.close(log_fd)

    def loop(self) -> None:
        """Reap every process that ends up here; restart the payload when it dies."""
        if self.payload:
            self.start_payload()
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                if self.stopping:
                    return
                signal.pause()
                continue
            if pid != self.child:
                continue
            self.child = None
            if self.stopping:
                return
            self.note(f"payload exited ({os.waitstatus_to_exitcode(status)}); restarting")
            time.sleep(RESTART_DELAY)
            if not self.stopping:
                self.start_payload()

    def note(self, text: str) -> None:
        if self.log_path:
            with open(self.log_path, "a") as f:  # noqa: PTH123
                f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} init: {text}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description="PID 1 of a tandem lab machine")
    parser.add_argument("--spec", required=True, help="JSON: hostname, binds, serial, payload")
    parser.add_argument("--ready-fd", type=int, required=True)
    parser.add_argument("--go-fd", type=int, required=True)
    args = parser.parse_args()
    spec = json.loads(args.spec)
    # /proc is still the host's here, so /proc/self names this process as the host sees it.
    host_pid = int(Path("/proc/self").readlink().name)
    init = Init(spec.get("payload"), spec.get("log"))
    signal.signal(signal.SIGTERM, init.on_term)
    signal.signal(signal.SIGALRM, lambda *_: os._exit(0))
    try:
        mount_machine(spec)
        socket.sethostname(spec["hostname"])
    except (subprocess.CalledProcessError, OSError) as exc:
        detail = exc.stderr.strip() if isinstance(exc, subprocess.CalledProcessError) else exc
        os.write(args.ready_fd, f"failed {detail}\n".encode())
        sys.exit(1)
    os.write(args.ready_fd, f"ready {host_pid}\n".encode())
    os.close(args.ready_fd)
    if os.read(args.go_fd, 16) != b"go":
        sys.exit(1)  # the lab gave up on this machine before plugging it in
    os.close(args.go_fd)
    init.note(f"machine {spec['hostname']} up")
    init.loop()


if __name__ == "__main__":
    main()
