"""Heartbeat and witness packets on the wire (HB-5): framing, authentication, limits.

Every packet is a fixed binary header, a small JSON body and an HMAC-SHA256 over both,
keyed by a key derived from the cluster key (a different key per purpose, so a captured
heartbeat can never pass as a witness message). The header names the path the packet was
sent on: a heartbeat recorded on one path and replayed on another is refused. Replays on
the same path are refused by the receiver's core, which knows the sender's generation and
sequence numbers.

The serial line carries the same packets in SLIP frames (RFC 1055), which resynchronise
on the next frame boundary after line noise.

Decoding never raises anything but `Dropped`, whose reason is counted by the daemon.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
from dataclasses import dataclass
from typing import Any, Final, Literal

MAGIC: Final = b"THB1"
HEADER = struct.Struct(">4sBBBQQH")  # magic, kind, sender, path, generation, seq, body length
MAC_SIZE: Final = 32
MAX_PACKET: Final = 1400  # one unfragmented UDP datagram on any sane MTU
MAX_BODY: Final = MAX_PACKET - HEADER.size - MAC_SIZE

Kind = Literal["beat", "witness-request", "witness-reply"]
KINDS: Final[dict[Kind, int]] = {"beat": 1, "witness-request": 2, "witness-reply": 3}
KIND_NAMES: Final[dict[int, Kind]] = {v: k for k, v in KINDS.items()}

PathName = Literal["serial", "crossover", "external", "witness"]
PATHS: Final[dict[PathName, int]] = {"serial": 1, "crossover": 2, "external": 3, "witness": 4}
PATH_NAMES: Final[dict[int, PathName]] = {v: k for k, v in PATHS.items()}

WITNESS_ID: Final = 0  # the sender id of the witness; nodes are 1 and 2


class Dropped(Exception):
    """A packet that is not accepted; `reason` is what the daemon counts."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Packet:
    kind: Kind
    sender: int
    path: PathName
    generation: int
    seq: int
    body: dict[str, Any]


def derive_key(cluster_key: bytes, purpose: str) -> bytes:
    """One key per purpose from the cluster key, so that keys never cross protocols."""
    return hmac.new(cluster_key, f"tandem {purpose} v1".encode(), hashlib.sha256).digest()


def encode(packet: Packet, key: bytes) -> bytes:
    body = json.dumps(packet.body, separators=(",", ":"), sort_keys=True).encode()
    if len(body) > MAX_BODY:
        raise ValueError(f"body of {len(body)} bytes exceeds {MAX_BODY}")
    header = HEADER.pack(
        MAGIC,
        KINDS[packet.kind],
        packet.sender,
        PATHS[packet.path],
        packet.generation,
        packet.seq,
        len(body),
    )
    mac = hmac.new(key, header + body, hashlib.sha256).digest()
    return header + body + mac


def decode(data: bytes, key: bytes) -> Packet:
    """Authenticate and parse one packet; raise Dropped with the reason otherwise."""
    if len(data) > MAX_PACKET:
        raise Dropped("oversized", f"{len(data)} bytes")
    if len(data) < HEADER.size + MAC_SIZE:
        raise Dropped("truncated", f"{len(data)} bytes")
    magic, kind, sender, path, generation, seq, length = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise Dropped("foreign", "not a tandem heartbeat")
    if HEADER.size + length + MAC_SIZE != len(data):
        raise Dropped("truncated", "length does not match")
    signed, mac = data[: HEADER.size + length], data[HEADER.size + length :]
    if not hmac.compare_digest(hmac.new(key, signed, hashlib.sha256).digest(), mac):
        raise Dropped("bad-mac", "forged, corrupted, or another cluster's key")
    # Everything below is authenticated: a failure here is a bug or a version mismatch.
    if kind not in KIND_NAMES or path not in PATH_NAMES or sender > 2:
        raise Dropped("malformed", "unknown kind, path or sender")
    try:
        body = json.loads(signed[HEADER.size :])
    except ValueError:
        raise Dropped("malformed", "body is not JSON") from None
    if not isinstance(body, dict):
        raise Dropped("malformed", "body is not an object")
    return Packet(KIND_NAMES[kind], sender, PATH_NAMES[path], generation, seq, body)


# --- SLIP framing for the serial line ------------------------------------------------

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD


def slip_frame(packet: bytes) -> bytes:
    out = bytearray([END])
    for byte in packet:
        if byte == END:
            out += bytes([ESC, ESC_END])
        elif byte == ESC:
            out += bytes([ESC, ESC_ESC])
        else:
            out.append(byte)
    out.append(END)
    return bytes(out)


class SlipDecoder:
    """Bytes in, complete frames out; a frame that grows past the limit is thrown away."""

    def __init__(self, limit: int = MAX_PACKET) -> None:
        self.limit = limit
        self.buf = bytearray()
        self.escaped = False
        self.overflow = False
        self.discarded = 0  # frames dropped for length or bad escapes

    def feed(self, data: bytes) -> list[bytes]:
        frames: list[bytes] = []
        for byte in data:
            if byte == END:
                if self.buf and not self.overflow:
                    frames.append(bytes(self.buf))
                self.buf.clear()
                self.escaped = self.overflow = False
                continue
            if self.overflow:
                continue
            value = byte
            if self.escaped:
                self.escaped = False
                if byte not in (ESC_END, ESC_ESC):
                    self._discard()
                    continue
                value = END if byte == ESC_END else ESC
            elif byte == ESC:
                self.escaped = True
                continue
            self.buf.append(value)
            if len(self.buf) > self.limit:
                self._discard()
        return frames

    def _discard(self) -> None:
        self.buf.clear()
        self.overflow = True
        self.discarded += 1
