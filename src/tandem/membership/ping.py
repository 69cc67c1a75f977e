"""Ping nodes (HB-4) with raw ICMP echo, from inside the daemon.

Raw ICMP rather than the system's `ping`: a probe every half second to each ping node
would otherwise fork a process each time (measurable CPU on a small node, and a process
table entry for every probe), and parsing `ping`'s output is fragile across versions.
The daemon runs as root, which raw sockets need.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from collections.abc import Callable

ECHO_REQUEST, ECHO_REPLY = 8, 0


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int) -> bytes:
    payload = b"tandem-ping-node"
    header = struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, ident, seq)
    return struct.pack("!BBHHH", ECHO_REQUEST, 0, checksum(header + payload), ident, seq) + payload


def parse_reply(packet: bytes) -> tuple[int, int] | None:
    """(ident, seq) of an echo reply in a raw IPv4 packet, else None."""
    if len(packet) < 20:
        return None
    ihl = (packet[0] & 0x0F) * 4
    icmp = packet[ihl : ihl + 8]
    if len(icmp) < 8:
        return None
    kind, _code, _sum, ident, seq = struct.unpack("!BBHHH", icmp)
    return (ident, seq) if kind == ECHO_REPLY else None


class Pinger:
    """Probes every target each interval; reports each probe's result once."""

    def __init__(
        self, targets: list[str], interval: float, on_result: Callable[[str, bool], None]
    ) -> None:
        self.targets = targets
        self.interval = interval
        self.timeout = min(interval / 2, 1.0)
        self.on_result = on_result
        self.ident = os.getpid() & 0xFFFF
        self.seq = 0
        self.pending: dict[int, str] = {}
        self.sock: socket.socket | None = None

    async def run(self) -> None:
        if not self.targets:
            return
        loop = asyncio.get_running_loop()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        self.sock.setblocking(False)
        loop.add_reader(self.sock.fileno(), self._readable)
        try:
            while True:
                for target in self.targets:
                    self._probe(target, loop)
                await asyncio.sleep(self.interval)
        finally:
            loop.remove_reader(self.sock.fileno())
            self.sock.close()

    def _probe(self, target: str, loop: asyncio.AbstractEventLoop) -> None:
        assert self.sock is not None
        self.seq = (self.seq + 1) & 0xFFFF
        seq = self.seq
        self.pending[seq] = target
        with contextlib.suppress(OSError):  # no route: the timeout below reports it
            self.sock.sendto(echo_request(self.ident, seq), (target, 0))
        loop.call_later(self.timeout, self._expire, seq)

    def _expire(self, seq: int) -> None:
        target = self.pending.pop(seq, None)
        if target is not None:
            self.on_result(target, False)

    def _readable(self) -> None:
        assert self.sock is not None
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while True:
                packet, _ = self.sock.recvfrom(2048)
                reply = parse_reply(packet)
                if reply is None or reply[0] != self.ident:
                    continue
                target = self.pending.pop(reply[1], None)
                if target is not None:
                    self.on_result(target, True)
