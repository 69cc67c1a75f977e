"""The container's disk: an ext4 filesystem in one image file on /vz (VE-3 disk limits).

This kernel has no quota support (no CONFIG_QUOTA, so no ext4 project quota), and a
directory tree cannot be limited without it; a filesystem of its own can: writing past
its size fails with ENOSPC, and its inode count (fixed by mkfs) caps the number of files.
On a kernel with quotas, ext4 project quota on a plain directory would avoid the loop
device and allow changing the inode limit later; the image has advantages of its own:
a container is one file that is easy to move, back up and check (e2fsck), and a full
container cannot fill /vz for the others.

The image is thin (a sparse file, as Virtuozzo's ploop images were), so it takes only the
space written; `discard` gives freed blocks back to /vz. The image is mounted with
`mount -o loop`, which makes the loop device auto-clearing: it goes away with the mount,
even when the node crashes and its mount namespace dies.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tandem.containers.errors import ContainerError
from tandem.fsutil import mountpoints
from tandem.system.run import CommandFailed, run

MOUNT_OPTIONS = "loop,discard,noatime"


@dataclass(frozen=True)
class DiskUsage:
    used: int  # bytes
    total: int
    available: int  # what a write can still get (ext4 keeps a small reserve of its own)
    inodes_used: int
    inodes_total: int


def create(path: Path, size: int, inodes: int | None, label: str) -> None:
    """A new, empty ext4 image of `size` bytes; no root reserve, the whole disk is the
    container's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("xb") as f:
        f.truncate(size)
    argv = ["mkfs.ext4", "-q", "-F", "-m", "0", "-L", label[:16]]
    argv += ["-E", "nodiscard,lazy_itable_init=0,lazy_journal_init=1"]
    if inodes is not None:
        argv += ["-N", str(inodes)]
    try:
        run([*argv, str(path)], timeout=300)
    except CommandFailed:
        path.unlink(missing_ok=True)
        raise


def is_mounted(target: Path) -> bool:
    return target in mountpoints()


def mount(image: Path, target: Path, read_only: bool = False) -> None:
    if is_mounted(target):
        return
    target.mkdir(parents=True, exist_ok=True)
    options = MOUNT_OPTIONS + (",ro" if read_only else "")
    try:
        run(["mount", "-t", "ext4", "-o", options, str(image), str(target)], timeout=120)
    except CommandFailed as exc:
        raise ContainerError(
            f"the disk {image} cannot be mounted ({exc.stderr}); check it with "
            f"`e2fsck -f {image}` or use repair mode"
        ) from None


def umount(target: Path) -> None:
    if not is_mounted(target):
        return
    run(["umount", str(target)], timeout=120)


def usage(image: Path, target: Path) -> DiskUsage:
    """From the mounted filesystem, or from the superblock of an unmounted image."""
    if is_mounted(target):
        st = os.statvfs(target)
        return DiskUsage(
            used=(st.f_blocks - st.f_bfree) * st.f_frsize,
            total=st.f_blocks * st.f_frsize,
            available=st.f_bavail * st.f_frsize,
            inodes_used=st.f_files - st.f_ffree,
            inodes_total=st.f_files,
        )
    fields = superblock(image)
    block = int(fields["Block size"])
    blocks, free = int(fields["Block count"]), int(fields["Free blocks"])
    inodes, free_inodes = int(fields["Inode count"]), int(fields["Free inodes"])
    # ext4 keeps min(2 %, 4096 blocks) back from ordinary writes (s_resv_clusters).
    reserve = int(fields.get("Reserved block count", "0")) + min(blocks // 50, 4096)
    return DiskUsage(
        used=(blocks - free) * block,
        total=blocks * block,
        available=max(0, free - reserve) * block,
        inodes_used=inodes - free_inodes,
        inodes_total=inodes,
    )


def superblock(image: Path) -> dict[str, str]:
    out = run(["dumpe2fs", "-h", str(image)], timeout=60).stdout
    fields = {}
    for line in out.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def resize(image: Path, target: Path, size: int) -> None:
    """Grow online (the filesystem stays mounted) or shrink offline (after a check)."""
    current = image.stat().st_size
    if size == current:
        return
    if size > current:
        with image.open("r+b") as f:
            f.truncate(size)
        if is_mounted(target):
            device = _loop_of(target)
            try:
                run(["losetup", "-c", device])
                run(["resize2fs", device], timeout=600)
            except CommandFailed as exc:
                # Nothing was resized yet: give the file its old size back.
                with image.open("r+b") as f:
                    f.truncate(current)
                run(["losetup", "-c", device], check=False)
                raise ContainerError(
                    f"the disk cannot grow while the container runs ({exc.stderr.splitlines()[-1]}"
                    "; growing a mounted ext4 needs CAP_SYS_RESOURCE); stop the container and "
                    "set --diskspace again"
                ) from None
        else:
            run(["e2fsck", "-f", "-p", str(image)], timeout=600)
            run(["resize2fs", str(image)], timeout=600)
        return
    if is_mounted(target):
        raise ContainerError("a disk can only shrink while the container is stopped; stop it first")
    run(["e2fsck", "-f", "-p", str(image)], timeout=600)
    try:
        run(["resize2fs", str(image), f"{size // 1024}K"], timeout=600)
    except CommandFailed as exc:
        reason = exc.stderr.splitlines()[-1] if exc.stderr else str(exc)
        raise ContainerError(
            f"the disk cannot shrink to that size ({reason}); delete files in the container first"
        ) from None
    with image.open("r+b") as f:
        f.truncate(size)


def _loop_of(target: Path) -> str:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        if Path(left.split()[4]) == target:
            return right.split()[1]
    raise ContainerError(f"{target} is not mounted")


def fsck(image: Path) -> str:
    """Check and repair an unmounted image; returns e2fsck's report."""
    result = run(["e2fsck", "-f", "-y", str(image)], check=False, timeout=3600)
    if result.returncode >= 4:
        raise ContainerError(
            f"e2fsck could not repair {image} (exit {result.returncode}); restore a backup"
        )
    return result.stdout
