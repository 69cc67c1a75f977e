"""PID 1 of a lab machine: what the firmware, the kernel and systemd do on a real node.

It gives the machine its own /proc and /sys, its own disk at the production paths (bind
mounts from the lab's per-node directories), the serial cable at the configured device,
and its host name; reports ready; waits until the lab has plugged in the network; then
starts the machine's payload (`tandem node run` on a node) and restarts it when it dies,
as systemd's Restart=always would. Killing this process is a crash: the kernel kills
every process of the machine at once.

Like systemd, it powers the machine off on SIGRTMIN+4 and restarts it on SIGRTMIN+5 (what
`tandem node shutdown` and `tandem node reboot` send): the payload gets SIGTERM and up to
POWER_GRACE seconds to stop in order; a restart then ends every process left, empties
/run/tandem as a reboot empties /run, and starts the payload again. The lab's wiring and
the disk stay as they are, as a reboot keeps the cables and the disk.
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
STOP_GRACE = 10  # SIGTERM: the lab stopping (`lab down`), which should not take long
POWER_GRACE = 90  # poweroff or reboot from inside: systemd's DefaultTimeoutStopSec
POWEROFF = signal.SIGRTMIN + 4
REBOOT = signal.SIGRTMIN + 5
RUN_DIR = Path("/run/tandem")


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


def mount_machine(spec: dict[str, Any]) -> None:
    sh("mount", "-t", "proc", "proc", "/proc")
    run_dir = RUN_DIR
    run_dir.mkdir(parents=True, exist_ok=True)
    mount_run()
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


def mounts() -> list[str]:
    """Mount points of this machine, in the order they were mounted."""
    with open("/proc/self/mounts") as f:  # noqa: PTH123
        return [line.split()[1].replace("\\040", " ") for line in f]


def mount_run() -> None:
    sh("mount", "-t", "tmpfs", "-o", "mode=0755", "tandem-run", str(RUN_DIR))


class Init:
    def __init__(self, payload: list[str] | None, log_path: str | None) -> None:
        self.payload = payload
        self.log_path = log_path
        self.child: int | None = None
        self.stopping = False
        self.rebooting = False
        self.boot_mounts: list[str] = []  # the machine's own, as mount_machine left them

    def on_term(self, _sig: int, _frame: FrameType | None) -> None:
        self.stop(STOP_GRACE)

    def on_power(self, sig: int, _frame: FrameType | None) -> None:
        if self.stopping:
            return  # going down already
        self.rebooting = sig == REBOOT
        self.note("reboot requested" if self.rebooting else "poweroff requested")
        self.stop(POWER_GRACE)

    def on_alarm(self, _sig: int, _frame: FrameType | None) -> None:
        """The payload outlived its grace: on a restart everything is killed and the
        machine comes up again; otherwise init exits and the kernel kills the rest."""
        if self.rebooting:
            self.note("payload did not stop in time; killing every process")
            with contextlib.suppress(ProcessLookupError):
                os.kill(-1, signal.SIGKILL)
            return
        os._exit(0)

    def stop(self, grace: int) -> None:
        self.stopping = True
        if self.child is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child, signal.SIGTERM)
        signal.alarm(grace)  # a payload that ignores SIGTERM gets killed with us

    def restart_machine(self) -> None:
        """What is left of the old run goes, as in a reboot: every process, and /run."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)  # from PID 1: every other process of the machine
        with contextlib.suppress(ChildProcessError):
            while True:
                os.waitpid(-1, 0)
        # Whatever the old run mounted and did not unmount (it was killed) goes, newest
        # first; a reboot starts from the machine's own mounts.
        for target in reversed(mounts()):
            if target not in self.boot_mounts:
                subprocess.run(["umount", "-l", target], check=False, capture_output=True)
        subprocess.run(["umount", "-l", str(RUN_DIR)], check=False, capture_output=True)
        mount_run()
        signal.alarm(0)
        self.stopping = self.rebooting = False
        self.note("machine restarted")

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
            if self.stopping and self.rebooting:
                self.restart_machine()
                self.start_payload()
                continue
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
    signal.signal(signal.SIGALRM, init.on_alarm)
    signal.signal(POWEROFF, init.on_power)
    signal.signal(REBOOT, init.on_power)
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
    init.boot_mounts = mounts()
    init.note(f"machine {spec['hostname']} up")
    init.loop()


if __name__ == "__main__":
    main()
