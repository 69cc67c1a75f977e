"""`tandem witness run`: the third vote, on a third host (HB-6), like corosync's qnetd.

It needs the cluster key, a UDP port, and one small file: which volume replica is
recorded Outdated (the lease itself is not kept: a restarted witness waits one lease
before it grants anything, see witness_core.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from pathlib import Path
from typing import Any

from tandem import rpc
from tandem.errors import TandemError
from tandem.fsutil import atomic_write
from tandem.membership import wire
from tandem.membership.transport import UdpPath
from tandem.membership.witness_core import WitnessCore

log = logging.getLogger("tandem.witness")

WITNESS_SOCKET = Path("/run/tandem/witness.sock")


class WitnessDaemon:
    def __init__(
        self,
        cluster_key: bytes,
        listen: str,
        port: int,
        lease: float,
        keepalive: float,
        socket_path: Path = WITNESS_SOCKET,
        state_file: Path | None = None,
    ) -> None:
        self.key = wire.derive_key(cluster_key, "witness")
        self.listen, self.port = listen, port
        self.core = WitnessCore(lease=lease, now=time.monotonic(), head_start=2 * keepalive + 0.1)
        # A generation per start; the nodes drop replies of an earlier life of the witness.
        self.generation = time.time_ns() // 1_000_000
        self.seq = 0
        self.socket_path = socket_path
        self.state_file = state_file
        if state_file is not None:
            self.core.outdated = _load_outdated(state_file)
        self.udp: UdpPath | None = None
        self.sender: dict[int, str] = {}
        self.dropped: dict[str, int] = {}
        self.stop_event = asyncio.Event()

    def on_packet(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            packet = wire.decode(data, self.key)
            if packet.kind != "witness-request" or packet.sender not in (1, 2):
                raise wire.Dropped("malformed", "not a witness request")
        except wire.Dropped as exc:
            self.dropped[exc.reason] = self.dropped.get(exc.reason, 0) + 1
            return
        before, outdated = self.core.holder, set(self.core.outdated)
        reply = self.core.request(
            packet.sender, packet.generation, packet.seq, packet.body, time.monotonic()
        )
        if reply is None:
            return
        if self.core.outdated != outdated:
            # On disk before the reply: the holder writes alone only after this answer.
            self._save_outdated()
            names = ", ".join(f"node{n}" for n in sorted(self.core.outdated)) or "none"
            log.info("node%s recorded Outdated replicas: %s", packet.sender, names)
        self.sender[packet.sender] = addr[0]
        if self.core.holder != before:
            holder = f"node{self.core.holder}" if self.core.holder else "nobody"
            log.info("the witness's vote now belongs to %s", holder)
        self.seq += 1
        out = wire.Packet(
            "witness-reply", wire.WITNESS_ID, "witness", self.generation, self.seq, reply
        )
        assert self.udp is not None and self.udp.transport is not None
        self.udp.transport.sendto(wire.encode(out, self.key), addr)

    def _save_outdated(self) -> None:
        if self.state_file is not None:
            data = {"outdated": sorted(self.core.outdated)}
            atomic_write(self.state_file, json.dumps(data) + "\n", 0o600)

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("op") != "status":
            raise TandemError("the witness knows only: status")
        status = self.core.status(time.monotonic())
        drops = dict(self.dropped)
        for reason, count in status.pop("dropped").items():
            drops[reason] = drops.get(reason, 0) + count
        return {
            **status,
            "dropped": drops,
            "clients": self.sender,
            "listen": self.listen,
            "port": self.port,
        }

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop_event.set)
        self.udp = _WitnessUdp(self)
        await self.udp.open()
        server = await rpc.serve(self.socket_path, self.handle)
        log.info("witness listening on %s:%s (lease %g s)", self.listen, self.port, self.core.lease)
        try:
            await self.stop_event.wait()
        finally:
            server.close()
            self.udp.close()
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()


class _WitnessUdp(UdpPath):
    def __init__(self, daemon: WitnessDaemon) -> None:
        super().__init__("witness", daemon.listen, daemon.port, lambda _d: None)
        self.daemon = daemon

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.daemon.on_packet(data, (str(addr[0]), int(addr[1])))


def _load_outdated(path: Path) -> set[int]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return set()
    except ValueError as exc:
        raise TandemError(
            f"{path} is damaged ({exc}); it records which replica is Outdated: "
            "restore it, or remove it only if both replicas are UpToDate"
        ) from None
    return {int(n) for n in data.get("outdated", []) if n in (1, 2)}


def dump(status: dict[str, Any]) -> str:
    return json.dumps(status, indent=2)
