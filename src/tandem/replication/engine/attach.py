"""Attaching the volume on the Primary: a loop device over the FUSE file (with direct I/O,
so pages are not cached twice), a filesystem check, and ext4 mounted at /vz (DR-2).

The loop device in use is recorded in /run, so that detach, status and the engine's stop
find exactly it (loop devices are global to the host).
"""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path

from tandem import paths
from tandem.errors import TandemError
from tandem.fsutil import mountpoints
from tandem.system.run import CommandFailed, run

MOUNTPOINT = paths.RUN_DIR / "volume"
VOLUME_FILE = MOUNTPOINT / "volume"
# In /run: a loop device does not outlive a reboot, and the replica's own disk may be the
# one that failed (DR-8) when an operator detaches.
RECORD = paths.RUN_DIR / "volume-attached.json"
BUSY_PATIENCE = 5.0  # seconds a busy /vz is retried before detach gives up


def attached() -> dict[str, str] | None:
    try:
        data: dict[str, str] = json.loads(RECORD.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return data


def attach(target: Path = paths.VZ_DIR, mkfs: bool = False) -> dict[str, str]:
    if attached():
        raise TandemError(f"the volume is attached already ({attached()}); detach it first")
    # losetup would quietly fall back to read-only: ask for writing ourselves first.
    try:
        os.close(os.open(VOLUME_FILE, os.O_RDWR))
    except OSError as exc:
        if exc.errno == errno.EROFS:
            raise TandemError(
                "this replica is Secondary: its volume cannot be attached or written; promote "
                "it first (`tandem volume primary`) on the node that should run the services"
            ) from None
        raise TandemError(
            f"cannot open the volume {VOLUME_FILE}: {exc.strerror}; is the volume engine "
            "running (`tandem node status`)?"
        ) from None
    try:
        loop = run(["losetup", "--direct-io=on", "-f", "--show", str(VOLUME_FILE)]).stdout.strip()
    except CommandFailed as exc:
        raise TandemError(f"cannot attach the volume: {exc.stderr}") from None
    record = {"loop": loop, "mountpoint": str(target)}
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    RECORD.write_text(json.dumps(record))
    try:
        if mkfs:
            # No discard: the FUSE file cannot punch holes (MACHINE-NOTES).
            run(["mkfs.ext4", "-q", "-F", "-E", "nodiscard", "-L", "tandem-vz", loop], timeout=600)
        else:
            check = run(["fsck.ext4", "-p", loop], check=False, timeout=3600)
            if check.returncode >= 4:
                raise TandemError(f"the filesystem on the volume needs repair: {check.stdout}")
        target.mkdir(parents=True, exist_ok=True)
        run(["mount", "-o", "noatime", loop, str(target)])
    except (CommandFailed, TandemError):
        run(["losetup", "-d", loop], check=False)
        RECORD.unlink(missing_ok=True)
        raise
    return record


def detach() -> dict[str, str] | None:
    """Unmount and release the loop device; refused (nothing changed) while /vz is busy."""
    record = attached()
    if record is None:
        return None
    mountpoint = record["mountpoint"]
    if mounted(mountpoint):
        _unmount(mountpoint)
    gone = run(["losetup", "-d", record["loop"]], check=False)
    if gone.returncode != 0 and "No such device" not in gone.stderr:
        raise TandemError(f"cannot release {record['loop']}: {gone.stderr.strip()}")
    RECORD.unlink(missing_ok=True)
    return record


def _unmount(mountpoint: str, patience: float = BUSY_PATIENCE) -> None:
    """Unmounts, waiting out short-lived users (an `lxc-info` of a status poll holds the
    lxcpath under /vz for a moment); a lasting user is named in the refusal."""
    deadline = time.monotonic() + patience
    while True:
        umount = run(["umount", mountpoint], check=False)
        if umount.returncode == 0:
            return
        if "busy" not in umount.stderr or time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    users = run(["fuser", "-vm", mountpoint], check=False).stderr.strip()
    raise TandemError(
        f"cannot unmount {mountpoint}: {umount.stderr.strip()}; stop the containers and "
        f"whatever else uses it (`fuser -vm {mountpoint}` lists them), then retry"
        + (f"\n{users}" if users else "")
    )


def mounted(mountpoint: str) -> bool:
    return Path(mountpoint) in mountpoints()
