"""Replication messages on the wire.

Frame: u8 type | u32 length of the rest | body. Messages on the data path have a body of
fixed integer fields (struct) followed by raw bytes, so a 1 MiB block is never copied into
JSON or joined with its header: `encode` returns the two parts for one `sendmsg`. Rare
messages (handshake, state, sync control) carry a JSON body.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Final

from tandem.errors import ProtocolError
from tandem.replication import messages as m

HEADER: Final = struct.Struct(">BI")
MAX_FRAME: Final = 8 << 20  # a resync run is 1 MiB; anything far larger is garbage


class _Binary:
    def __init__(self, tid: int, fields: tuple[str, ...], data: str | None = None) -> None:
        self.tid = tid
        self.fields = fields
        self.struct = struct.Struct(">" + "Q" * len(fields))
        self.data = data


_BINARY: dict[type, _Binary] = {
    m.Data: _Binary(1, ("seq", "offset"), "data"),
    m.Ack: _Binary(2, ("seq",)),
    m.Flush: _Binary(3, ("seq",)),
    m.FlushAck: _Binary(4, ("seq",)),
    m.SyncData: _Binary(5, ("block",), "data"),
    m.SyncAck: _Binary(6, ("block",)),
    m.Ping: _Binary(7, ("n",)),
    m.Pong: _Binary(8, ("n",)),
    m.VerifyBlock: _Binary(9, ("block",), "digest"),
    m.ReadReq: _Binary(10, ("id", "offset", "length")),
    m.ReadReply: _Binary(11, ("id", "ok"), "data"),
}
_JSON: dict[type, int] = {
    m.Hello: 20,
    m.State: 21,
    m.SyncStart: 22,
    m.SyncDone: 23,
    m.VerifyStart: 24,
    m.VerifyReply: 25,
    m.VerifyDone: 26,
}
_BY_ID: dict[int, type] = {b.tid: cls for cls, b in _BINARY.items()} | {
    tid: cls for cls, tid in _JSON.items()
}


def encode(msg: Any) -> tuple[bytes, bytes]:
    """(header + fixed part, data): send both with one sendmsg, without joining them."""
    cls = type(msg)
    spec = _BINARY.get(cls)
    if spec is not None:
        if cls is m.ReadReply:
            values = [msg.id, int(msg.data is not None)]
            data = msg.data or b""
        else:
            values = [getattr(msg, f) for f in spec.fields]
            data = getattr(msg, spec.data) if spec.data else b""
        fixed = spec.struct.pack(*values)
        return HEADER.pack(spec.tid, len(fixed) + len(data)) + fixed, data
    body = json.dumps(_plain(msg.__dict__), separators=(",", ":")).encode()
    return HEADER.pack(_JSON[cls], len(body)) + body, b""


def decode(tid: int, body: memoryview) -> Any:
    """Parse one frame's body; anything malformed is a ProtocolError (the link drops)."""
    cls = _BY_ID.get(tid)
    if cls is None:
        raise ProtocolError(f"unknown message type {tid}")
    try:
        spec = _BINARY.get(cls)
        if spec is not None:
            values = spec.struct.unpack_from(body)
            data = bytes(body[spec.struct.size :])
            if cls is m.ReadReply:
                return m.ReadReply(values[0], data if values[1] else None)
            kwargs: dict[str, Any] = dict(zip(spec.fields, values, strict=True))
            if spec.data:
                kwargs[spec.data] = data
            return cls(**kwargs)
        obj = json.loads(bytes(body))
        if cls is m.Hello:
            obj["history"] = tuple(int(h) for h in obj["history"])
            obj["dirty"] = tuple((int(s), int(c)) for s, c in obj["dirty"])
        elif cls is m.VerifyReply:
            obj["differing"] = tuple(int(b) for b in obj["differing"])
        return cls(**obj)
    except (struct.error, ValueError, TypeError, KeyError) as exc:
        raise ProtocolError(f"malformed {cls.__name__}: {exc}") from None


def _plain(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        k: [list(x) if isinstance(x, tuple) else x for x in v] if isinstance(v, tuple) else v
        for k, v in obj.items()
    }
