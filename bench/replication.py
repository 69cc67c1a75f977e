"""The replicated volume against ext4 on a plain file (issue 4, DR-1/DR-2/DR-4).

One run measures, on this host and in this order:

1. the baseline: ext4 on a loop device (direct I/O) over a plain file;
2. ext4 on a loop device over the volume of an engine without a peer;
3. ext4 over the replicated volume (two engines, the link on loopback), for each protocol
   asked for (C by default);

each with 1 MiB sequential writes ending with fsync and 4 KiB random writes with an fsync
every 64, and the full resync of the volume against raw TCP on the same link.

Run as root:  uv run python bench/replication.py [--size-mib 1024] [--protocols C,B,A]
It works in a scratch directory under /var/tmp (the filesystem of /var/lib/tandem) and
removes its engines, mounts, loop devices and files afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MIB = 1 << 20
RANDOM_FILE = 256 * MIB
FSYNC_EVERY = 64


# --- the workloads (the same for every device) ---------------------------------------------


def sequential(path: Path, size: int) -> float:
    """MB/s of 1 MiB writes of a new file, ending with fsync (the fsync counts)."""
    block = os.urandom(MIB)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        start = time.perf_counter()
        for _ in range(size // MIB):
            os.write(fd, block)
        os.fsync(fd)
        seconds = time.perf_counter() - start
    finally:
        os.close(fd)
    path.unlink()
    return size / seconds / 1e6


def random_4k(path: Path, seconds: float) -> float:
    """MB/s of 4 KiB writes at random places of a written 256 MiB file, fsync every 64."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        fill = b"\1" * MIB
        for off in range(0, RANDOM_FILE, MIB):
            os.pwrite(fd, fill, off)
        os.fsync(fd)  # overwrites from here on, never allocation
        block = os.urandom(4096)
        rng = random.Random(4)
        writes = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(FSYNC_EVERY):
                os.pwrite(fd, block, rng.randrange(RANDOM_FILE // 4096) * 4096)
            os.fsync(fd)
            writes += FSYNC_EVERY
        took = time.perf_counter() - start
    finally:
        os.close(fd)
    path.unlink()
    return writes * 4096 / took / 1e6


# --- devices ---------------------------------------------------------------------------------


def run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()


@contextlib.contextmanager
def ext4_on(backing: Path, mountpoint: Path) -> Iterator[Path]:
    """ext4 on a direct-I/O loop device over `backing`, as a node attaches the volume."""
    loop = run("losetup", "--direct-io=on", "--find", "--show", str(backing))
    try:
        run("mkfs.ext4", "-q", "-F", "-E", "nodiscard,lazy_itable_init=0,lazy_journal_init=0", loop)
        mountpoint.mkdir(parents=True, exist_ok=True)
        run("mount", "-o", "noatime", loop, str(mountpoint))
        try:
            yield mountpoint
        finally:
            run("umount", str(mountpoint))
    finally:
        run("losetup", "-d", loop)


def measure(mnt: Path, seq_size: int, rand_seconds: float) -> dict[str, float]:
    # A new loop device starts with no estimate of its speed, and the kernel throttles
    # writers to it at first: one warm-up pass, the same for every device, then the figures.
    sequential(mnt / "warm-up", seq_size // 2)
    return {
        "seq": sequential(mnt / "seq", seq_size),
        "rand": random_4k(mnt / "rand", rand_seconds),
    }


# --- engines in their own processes ------------------------------------------------------------


class Engine:
    def __init__(self, base: Path, node: int, size: int, protocol: str, peer: int | None) -> None:
        self.base = base
        self.node = node
        self.socket = base / f"engine{node}.sock"
        self.mnt = base / f"volume{node}"
        log = (base / f"engine{node}.log").open("w")
        args = [sys.executable, __file__, "--engine", str(node), "--dir", str(base)]
        args += ["--size-mib", str(size // MIB), "--protocols", protocol]
        args += ["--port", str(peer or 0)]
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"engine {node} did not start; see {log.name}")
            time.sleep(0.05)

    def ask(self, op: str, **args: Any) -> dict[str, Any]:
        from tandem import rpc

        return rpc.call(self.socket, op, timeout=30, **args)

    def wait(self, condition: str, timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status = self.ask("status")
            if eval(condition, {}, {"s": status}):  # our own conditions, never input
                return status
            if time.monotonic() > deadline:
                raise SystemExit(f"engine {self.node}: not {condition} after {timeout} s: {status}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if os.path.ismount(self.mnt):
            subprocess.run(["fusermount3", "-u", "-z", str(self.mnt)], check=False)


def engine_main(args: argparse.Namespace) -> None:
    """Inside the engine's process: the product's engine with the bench's settings."""
    import logging

    import trio

    from tandem.replication.engine.daemon import EngineSettings, VolumeEngine
    from tandem.replication.engine.store import Store

    node = args.engine
    base = Path(args.dir)
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s node{node} %(message)s")
    size = args.size_mib * MIB
    store = Store(base / f"store{node}", size)
    if not store.exists():
        store.create()
    peer = ("127.0.0.1", args.port) if args.port else None
    settings = EngineSettings(
        node=node,
        size=size,
        protocol=args.protocols,
        resync_rate=float(1 << 40),  # unlimited: the bench measures what the link allows
        ack_timeout=10.0,
        listen=peer if node == 1 else None,
        connect=peer if node == 2 else None,
        key=b"bench" * 8,
        mountpoint=base / f"volume{node}",
        socket=base / f"engine{node}.sock",
        membership=None,
    )
    trio.run(VolumeEngine(settings, store).run)


def passthrough_main(args: argparse.Namespace) -> None:
    """Inside its process: the engine's FUSE file with plain pwrite, pread and fdatasync
    in the handlers, no replication core: what FUSE and pyfuse3 cost by themselves."""
    import pyfuse3
    import trio

    from tandem.replication.engine.fusefs import VolumeFS
    from tandem.replication.engine.fusetune import MAX_BACKGROUND, raise_background

    base = Path(args.dir)
    size = args.size_mib * MIB
    backing = base / "passthrough.img"
    with backing.open("wb") as f:
        f.truncate(size)
    fd = os.open(backing, os.O_RDWR)

    async def submit(kind: str, offset: int, payload: Any) -> Any:
        if kind == "write":
            os.pwrite(fd, payload, offset)
            return None
        if kind == "read":
            return os.pread(fd, int(payload), offset)
        os.fdatasync(fd)
        return None

    mountpoint = base / "passthrough"
    mountpoint.mkdir(exist_ok=True)
    options = set(pyfuse3.default_options)
    options.add("fsname=tandem-bench-passthrough")
    pyfuse3.init(VolumeFS(size, submit, lambda: None), str(mountpoint), options)
    raise_background(mountpoint)
    (base / "passthrough.ready").touch()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pyfuse3.main, 1, MAX_BACKGROUND)
            with trio.open_signal_receiver(signal.SIGTERM) as signals:
                async for _ in signals:
                    nursery.cancel_scope.cancel()

    try:
        trio.run(main)
    finally:
        pyfuse3.close(unmount=True)


def passthrough_measure(base: Path, size: int, seq: int, rand_seconds: float) -> dict[str, float]:
    args = [sys.executable, __file__, "--passthrough", "--dir", str(base)]
    proc = subprocess.Popen([*args, "--size-mib", str(size // MIB)])
    try:
        deadline = time.monotonic() + 20
        while not (base / "passthrough.ready").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the FUSE passthrough did not start")
            time.sleep(0.05)
        with ext4_on(base / "passthrough" / "volume", base / "mnt") as mnt:
            return measure(mnt, seq, rand_seconds)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        (base / "passthrough.img").unlink(missing_ok=True)


# --- raw TCP: the ceiling of the link ---------------------------------------------------------

RECEIVER = """
import socket, sys
srv = socket.create_server(("127.0.0.1", 0)); print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept(); buf = bytearray(1 << 20); got = 0
while (n := conn.recv_into(buf)):
    got += n
conn.sendall(str(got).encode())
"""


def raw_tcp(size: int) -> float:
    """MB/s of `size` bytes through one TCP connection on loopback, process to process
    (1 MiB sends and receives, as the link's resync messages are)."""
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    assert receiver.stdout is not None
    port = int(receiver.stdout.readline())
    data = os.urandom(MIB)
    with socket.create_connection(("127.0.0.1", port)) as s:
        start = time.perf_counter()
        for _ in range(size // MIB):
            s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = int(s.recv(64))
        seconds = time.perf_counter() - start
    receiver.wait()
    assert got == size
    return size / seconds / 1e6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fill(path: Path, size: int) -> None:
    """Non-zero data in the source replica, so the full sync moves real bytes."""
    block = os.urandom(MIB)
    fd = os.open(path, os.O_WRONLY)
    try:
        for off in range(0, size, MIB):
            os.pwrite(fd, block, off)
        os.fsync(fd)
    finally:
        os.close(fd)


# --- the run -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="volume size")
    parser.add_argument("--seq-mib", type=int, default=512, help="sequential write size")
    parser.add_argument("--rand-seconds", type=float, default=8.0)
    parser.add_argument("--protocols", default="C", help="comma-separated: C,B,A")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--engine", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--passthrough", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        engine_main(args)
        return
    if args.passthrough:
        passthrough_main(args)
        return
    if os.geteuid() != 0:
        raise SystemExit("run as root: loop devices, mounts and FUSE")
    size = args.size_mib * MIB
    seq = args.seq_mib * MIB
    base = Path(tempfile.mkdtemp(prefix="tandem-bench-repl-", dir="/var/tmp"))
    engines: list[Engine] = []
    figures: dict[str, Any] = {}
    try:
        plain = base / "plain.img"
        with plain.open("wb") as f:
            f.truncate(size)
        with ext4_on(plain, base / "mnt") as mnt:
            figures["baseline"] = measure(mnt, seq, args.rand_seconds)
        plain.unlink()
        show("ext4 on loop over a plain file", figures["baseline"], figures["baseline"])
        figures["passthrough"] = passthrough_measure(base, size, seq, args.rand_seconds)
        show(
            "ext4 on a plain FUSE passthrough (pyfuse3)",
            figures["passthrough"],
            figures["baseline"],
        )

        alone = Engine(base, 1, size, "C", None)
        engines.append(alone)
        alone.ask("initialize")
        alone.ask("primary", force=True)
        alone.wait("s['role'] == 'Primary'")
        with ext4_on(alone.mnt / "volume", base / "mnt") as mnt:
            figures["alone"] = measure(mnt, seq, args.rand_seconds)
        alone.stop()
        engines.clear()
        shutil.rmtree(base / "store1")
        show("ext4 on the volume, no peer", figures["alone"], figures["baseline"])

        tcp = raw_tcp(size)
        figures["raw_tcp"] = tcp
        for protocol in args.protocols.split(","):
            port = free_port()
            one = Engine(base, 1, size, protocol, port)
            two = Engine(base, 2, size, protocol, port)
            engines[:] = [one, two]
            fill(base / "store1" / "data", size)
            start = time.perf_counter()
            one.ask("initialize")
            one.wait("s['connection'] == 'Connected' and s['peer_disk'] == 'UpToDate'")
            resync = size / (time.perf_counter() - start) / 1e6
            one.ask("primary")
            one.wait("s['role'] == 'Primary'")
            with ext4_on(one.mnt / "volume", base / "mnt") as mnt:
                result = measure(mnt, seq, args.rand_seconds)
            result["resync"] = resync
            figures[f"protocol_{protocol}"] = result
            show(f"ext4 on the volume, protocol {protocol}", result, figures["baseline"])
            print(
                f"  full resync of {size // MIB} MiB: {resync:7.0f} MB/s = "
                f"{resync / tcp:.2f} x raw TCP on the link ({tcp:.0f} MB/s)"
            )
            for engine in engines:
                engine.stop()
            engines.clear()
            shutil.rmtree(base / "store1")
            shutil.rmtree(base / "store2")
        if args.json:
            print(json.dumps(figures))
    finally:
        for engine in engines:
            engine.stop()
        shutil.rmtree(base, ignore_errors=True)


def show(title: str, got: dict[str, float], base: dict[str, float]) -> None:
    print(f"{title}:")
    print(
        f"  1 MiB sequential + fsync: {got['seq']:7.0f} MB/s = {got['seq'] / base['seq']:.2f} x"
        " baseline"
    )
    print(
        f"  4 KiB random, fsync/64:   {got['rand']:7.1f} MB/s = {got['rand'] / base['rand']:.2f} x"
        f" baseline ({got['rand'] * 1e6 / 4096:.0f} IOPS)"
    )


if __name__ == "__main__":
    main()
