"""The lab's disk (volatile write cache over FUSE): what it costs a writer like the
replication engine (pwrite of 4 KiB to 1 MiB, fdatasync), against a plain file on the
same host filesystem in the same run; and how long the lab's orders take with a full cache.

Run as root:  uv run python bench/disk.py [--size-mib 256]
It starts its own disk daemon on a scratch directory and stops it afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

MIB = 1024 * 1024
KIB = 1024


def control(sock: Path, op: str) -> dict[str, object]:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(sock))
        s.sendall(json.dumps({"op": op}).encode() + b"\n")
        reply: dict[str, object] = json.loads(s.makefile().readline())
        return reply


def prepare(path: Path, size: int) -> None:
    """A file of `size` bytes, written and flushed, its name durable."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    block = os.urandom(MIB)
    for off in range(0, size, MIB):
        os.pwrite(fd, block, off)
    os.fsync(fd)
    os.close(fd)
    d = os.open(path.parent, os.O_RDONLY)
    os.fsync(d)
    os.close(d)


def seq_write(fd: int, size: int) -> tuple[float, str]:
    block = os.urandom(MIB)
    start = time.perf_counter()
    for i, off in enumerate(range(0, size, MIB)):
        os.pwrite(fd, block, off)
        if i % 16 == 15:
            os.fdatasync(fd)
    os.fdatasync(fd)
    seconds = time.perf_counter() - start
    return size / MIB / seconds, "MB/s  1 MiB writes, fdatasync every 16 MiB"


def random_4k(fd: int, size: int) -> tuple[float, str]:
    rng = random.Random(1)
    block = os.urandom(4 * KIB)
    count = 20000
    start = time.perf_counter()
    for i in range(count):
        os.pwrite(fd, block, rng.randrange(size // (4 * KIB)) * 4 * KIB)
        if i % 64 == 63:
            os.fdatasync(fd)
    os.fdatasync(fd)
    return count / (time.perf_counter() - start), "IOPS  4 KiB random writes, fdatasync every 64"


def mixed(fd: int, size: int) -> tuple[float, str]:
    """What the engine does: aligned writes of 4 KiB to 1 MiB, a flush every 8 writes."""
    rng = random.Random(2)
    data = os.urandom(MIB)
    total = 0
    start = time.perf_counter()
    for i in range(3000):
        length = 4 * KIB << rng.randrange(9)  # 4 KiB .. 1 MiB
        offset = rng.randrange((size - length) // (4 * KIB)) * 4 * KIB
        os.pwrite(fd, data[:length], offset)
        total += length
        if i % 8 == 7:
            os.fdatasync(fd)
    os.fdatasync(fd)
    return total / MIB / (time.perf_counter() - start), "MB/s  4 KiB-1 MiB writes, flush every 8"


def sync_4k(fd: int, size: int) -> tuple[float, str]:
    block = os.urandom(4 * KIB)
    count = 2000
    start = time.perf_counter()
    for i in range(count):
        os.pwrite(fd, block, (i % (size // (4 * KIB))) * 4 * KIB)
        os.fdatasync(fd)
    return count / (time.perf_counter() - start), "op/s  4 KiB write + fdatasync each"


def seq_read(fd: int, size: int) -> tuple[float, str]:
    start = time.perf_counter()
    for off in range(0, size, MIB):
        os.pread(fd, MIB, off)
    return size / MIB / (time.perf_counter() - start), "MB/s  1 MiB reads of flushed data"


WORKLOADS: list[Callable[[int, int], tuple[float, str]]] = [
    seq_write, random_4k, mixed, sync_4k, seq_read,
]  # fmt: skip


def run_all(directory: Path, size: int) -> list[tuple[float, str]]:
    path = directory / "data"
    prepare(path, size)
    results = []
    for workload in WORKLOADS:
        fd = os.open(path, os.O_RDWR)  # a fresh open: FUSE drops the kernel's page cache
        try:
            results.append(workload(fd, size))
        finally:
            os.close(fd)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    args = parser.parse_args()
    size = args.size_mib * MIB
    base = Path(tempfile.mkdtemp(prefix="tandemb-disk-", dir="/var/tmp"))
    plain, store, mount = base / "plain", base / "store", base / "mnt"
    for d in (plain, store, mount):
        d.mkdir()
    sock = base / "disk.sock"
    daemon = subprocess.Popen(
        [sys.executable, "-m", "tandem.lab.disk.daemon", "--store", str(store),
         "--mount", str(mount), "--socket", str(sock), "--fsname", "tandemb-disk"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(200):
            if sock.exists():
                break
            time.sleep(0.05)
        baseline = run_all(plain, size)
        disk = run_all(mount, size)
        print(f"file of {args.size_mib} MiB; plain file on the host's ext4 vs the lab's disk")
        for (b, what), (d, _) in zip(baseline, disk, strict=True):
            print(f"  {what:48s} plain {b:9.0f}   disk {d:9.0f}   ratio {d / b:5.2f}")
        # The lab's orders with a full cache: a crash writes it back, a power cut drops it.
        fd = os.open(mount / "data", os.O_RDWR)
        block = os.urandom(MIB)
        for order in ("writeback", "power_cut"):
            for off in range(0, size, MIB):
                os.pwrite(fd, block, off)
            start = time.perf_counter()
            control(sock, order)
            print(f"  {order} of {size // MIB} MiB cached: {time.perf_counter() - start:.3f} s")
        os.close(fd)
    finally:
        daemon.terminate()
        daemon.wait(30)
        subprocess.run(["umount", "-l", str(mount)], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
