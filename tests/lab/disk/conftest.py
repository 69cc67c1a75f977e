"""A real disk daemon on a scratch directory, for the FUSE tests (root: it mounts)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tandem.lab.disk.client import DiskClient
from tests.conftest import TEST_LAB

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting FUSE needs root")


@dataclass
class Daemon:
    store: Path
    mount: Path
    client: DiskClient
    process: subprocess.Popen[bytes]
    log: Path

    def __call__(self, op: str, **args: Any) -> dict[str, Any]:
        return self.client.call(op, **args)


def mounted(path: Path) -> bool:
    return any(
        line.split()[1] == str(path) for line in Path("/proc/mounts").read_text().splitlines()
    )


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    """Started for the module; stopped and unmounted afterwards, even when a test fails."""
    base = Path(tempfile.mkdtemp(prefix=f"{TEST_LAB}-disk-"))
    store, mount, log = base / "store", base / "mnt", base / "disk.log"
    store.mkdir()
    mount.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "tandem.lab.disk.daemon", "--store", str(store), "--mount",
         str(mount), "--socket", str(base / "disk.sock"), "--fsname", f"{TEST_LAB}-disktest"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    client = DiskClient(base / "disk.sock", timeout=30)
    try:
        deadline = time.monotonic() + 15
        while not client.alive():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the disk daemon did not start"
            time.sleep(0.05)
        assert mounted(mount)
        yield Daemon(store, mount, client, process, log)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if mounted(mount):
            subprocess.run(["umount", "-l", str(mount)], check=False)
        shutil.rmtree(base, ignore_errors=True)
