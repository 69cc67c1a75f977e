"""The local RPC (JSON lines on a Unix socket, as tandem.rpc) for a trio daemon."""

from __future__ import annotations

import json
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

from tandem.errors import TandemError

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


async def serve_unix(path: Path, handler: Handler) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await sock.bind(str(path))
    path.chmod(0o600)
    sock.listen(16)

    async def connection(stream: trio.SocketStream) -> None:
        buf = b""
        async with stream:
            while True:
                chunk = await stream.receive_some(65536)
                if not chunk:
                    return
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    await stream.send_all(await _answer(line, handler) + b"\n")

    await trio.serve_listeners(connection, [trio.SocketListener(sock)])


async def _answer(line: bytes, handler: Handler) -> bytes:
    try:
        request = json.loads(line)
        if not isinstance(request, dict):
            raise ValueError("a request is a JSON object")
        reply: dict[str, Any] = {"ok": True, **await handler(request)}
    except ValueError as exc:
        reply = {"ok": False, "error": f"bad request: {exc}"}
    except TandemError as exc:
        reply = {"ok": False, "error": str(exc)}
    return json.dumps(reply, default=str).encode()
