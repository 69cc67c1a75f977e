"""Container 101 as the Passwords page finds it, built for real: the busybox OS template's
root filesystem (containers/busybox.py), on a /vz that is a mount point (tmpfs), either
with its disk mounted (as while it runs) or as its ext4 image alone (as when stopped).

Mounting needs root; the mounts are in this host's mount namespace below the test's own
folder, and are undone when the test ends.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tandem.containers import busybox, definition
from tandem.containers.definition import Definition
from tandem.containers.layout import Layout
from tandem.containers.samples import Resources

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting /vz and disks needs root")
NOBODY = 65534


def build_root(root: Path) -> Path:
    """The busybox template, plus an unprivileged user to run su as (su asks root's
    password only of others)."""
    busybox.build(root)
    with (root / "etc/passwd").open("a") as f:
        f.write(f"nobody:x:{NOBODY}:{NOBODY}:nobody:/:/bin/sh\n")
    return root


def hash_in(shadow: str) -> str:
    for line in shadow.splitlines():
        if line.startswith("root:"):
            return line.split(":")[1]
    raise AssertionError(f"no root line in {shadow!r}")


def shadow_hash(root: Path) -> str:
    return hash_in((root / "etc/shadow").read_text())


def openssl_verifies(hashed: str, password: str) -> bool:
    """Recompute the SHA-512 crypt hash with the stored salt, as login does."""
    salt = hashed.split("$")[2]
    out = subprocess.run(
        ["openssl", "passwd", "-6", "-salt", salt, "-stdin"],
        input=password, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip() == hashed


def su_accepts(root: Path, password: str) -> bool:
    """The container's own busybox su, run as nobody in a chroot of its root filesystem,
    asked to become root with `password` (it reads /etc/shadow as a login does)."""
    result = subprocess.run(
        ["chroot", f"--userspec={NOBODY}:{NOBODY}", str(root), "/bin/su", "-c", "id -u", "root"],
        input=password + "\n", capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return result.returncode == 0 and result.stdout.strip().endswith("0")


@contextlib.contextmanager
def tmpfs(path: Path) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m,mode=0755", "tandem-test", str(path)],
        check=True,
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def define(vz: Path, veid: int = 101) -> Layout:
    layout = Layout(vz)
    layout.ve_dir(veid).mkdir(parents=True)
    resources = Resources(
        memory=256 * 1024**2, numproc=256, cpuunits=1000, cpulimit=None,
        diskspace=32 * 1024**2, diskinodes=None,
    )  # fmt: skip
    definition.save(
        layout.definition(veid),
        Definition(veid, f"vps{veid}.example.com", "busybox", "vps.256MB", resources),
    )
    return layout


@contextlib.contextmanager
def running_container(vz: Path) -> Iterator[Path]:
    """Container 101 whose disk is mounted at its rootfs (as while it runs); yields it."""
    layout = define(vz)
    with tmpfs(layout.rootfs(101)) as rootfs:
        build_root(rootfs)
        yield rootfs


def stopped_container(vz: Path, scratch: Path) -> Path:
    """Container 101 as its ext4 image only (as when stopped); returns the image."""
    layout = define(vz)
    tree = build_root(scratch / "tree")
    subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-d", str(tree), str(layout.image(101)), "32M"],
        check=True, capture_output=True,
    )  # fmt: skip
    return layout.image(101)


def image_file(image: Path, inside: str) -> str:
    """A file of an unmounted ext4 image, read with debugfs (no mount)."""
    out = subprocess.run(
        ["debugfs", "-R", f"cat {inside}", str(image)], capture_output=True, text=True, check=True
    )
    return out.stdout
