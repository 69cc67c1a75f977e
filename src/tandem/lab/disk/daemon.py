"""The process behind one lab disk: mounts the filesystem and takes the lab's orders.

The lab keeper starts one per node, in the host's namespaces, before the node boots; it
mounts the disk on the host (under /run/tandem-lab/<lab>/disks/<node>) and the node's
init binds that over /var/lib/tandem. So a crash of the node, which kills everything in
the node's namespaces, leaves the disk (and its cache) alone, as a crash of an operating
system leaves a powered disk alone. The lab talks to it with JSON lines on a Unix socket:

  status | power_cut | writeback | fail {"failed": bool} | stop

It runs every request to completion on one thread (trio + pyfuse3 with a single worker):
the model is not shared, and a control order is carried out between two FUSE requests.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import signal
from functools import partial
from pathlib import Path
from typing import Any

import pyfuse3
import trio

from tandem.lab.disk.cache import DEFAULT_CACHE_LIMIT, VolatileDisk
from tandem.lab.disk.fs import DiskFS
from tandem.lab.disk.store import DirectoryStore

log = logging.getLogger("tandem.lab.disk")


class Control:
    """The lab's orders to the disk; each returns the disk's status afterwards."""

    def __init__(self, fs: DiskFS, stop: trio.Event) -> None:
        self.fs = fs
        self.stop = stop

    def dispatch(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "power_cut":
            log.info("power cut: dropping %s", self.fs.status())
            self.fs.power_cut()
        elif op == "writeback":
            self.fs.disk.sync()  # the node crashed, the disk kept its power
        elif op == "fail":
            self.fs.failed = bool(request["failed"])
            log.info("disk %s", "failed" if self.fs.failed else "healed")
        elif op == "stop":
            self.stop.set()
        elif op != "status":
            return {"ok": False, "error": f"unknown op {op!r}"}
        return {"ok": True, **self.fs.status()}


async def _serve_client(control: Control, stream: trio.SocketStream) -> None:
    buffer = b""
    async with stream:
        while data := await stream.receive_some(65536):
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                try:
                    reply = control.dispatch(json.loads(line))
                except (ValueError, KeyError, TypeError) as exc:
                    reply = {"ok": False, "error": f"bad request: {exc!r}"}
                await stream.send_all(json.dumps(reply).encode() + b"\n")


async def _serve_control(control: Control, path: Path) -> None:
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    path.unlink(missing_ok=True)
    await sock.bind(str(path))
    sock.listen(16)
    await trio.serve_listeners(partial(_serve_client, control), [trio.SocketListener(sock)])


async def _run(fs: DiskFS, socket_path: Path) -> None:
    stop = trio.Event()
    control = Control(fs, stop)
    async with trio.open_nursery() as nursery:

        async def fuse() -> None:
            await pyfuse3.main(min_tasks=1, max_tasks=1)
            stop.set()  # unmounted from outside

        async def signals() -> None:
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as received:
                async for _ in received:
                    stop.set()

        nursery.start_soon(fuse)
        nursery.start_soon(signals)
        nursery.start_soon(_serve_control, control, socket_path)
        log.info("disk up: %s", fs.status())
        await stop.wait()
        nursery.cancel_scope.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description="a tandem lab disk (started by the keeper)")
    parser.add_argument("--store", type=Path, required=True, help="the durable directory")
    parser.add_argument("--mount", type=Path, required=True)
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--fsname", default="tandem-disk")
    parser.add_argument("--cache-limit", type=int, default=DEFAULT_CACHE_LIMIT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s disk: %(message)s")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    store = DirectoryStore(args.store)
    fs = DiskFS(VolatileDisk(store, args.cache_limit), store)
    options = {
        f"fsname={args.fsname}", "subtype=tandem", "allow_other", "default_permissions",
    }  # fmt: skip
    pyfuse3.init(fs, str(args.mount), options)
    try:
        trio.run(_run, fs, args.socket)
    finally:
        pyfuse3.close(unmount=True)
        args.socket.unlink(missing_ok=True)
        log.info("disk down")


if __name__ == "__main__":
    main()
