"""Local RPC between a node's processes: JSON lines over a Unix socket (DESIGN: web, crm
and the command line ask the daemons, never read their memory or files)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tandem.errors import ProtocolError, TandemError

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
MAX_REQUEST = 1 << 20


class RpcUnavailable(TandemError):
    pass


async def serve(path: Path, handler: Handler) -> asyncio.Server:
    """Answer each request line with one reply line; a bad request gets an error reply."""

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    request = json.loads(line)
                    if not isinstance(request, dict):
                        raise ProtocolError("a request is a JSON object")
                    reply = {"ok": True, **await handler(request)}
                except (ValueError, ProtocolError) as exc:
                    reply = {"ok": False, "error": f"bad request: {exc}"}
                except TandemError as exc:
                    reply = {"ok": False, "error": str(exc)}
                writer.write(json.dumps(reply, default=str).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    server = await asyncio.start_unix_server(connection, path=str(path), limit=MAX_REQUEST)
    path.chmod(0o600)
    return server


def call(path: Path, op: str, timeout: float = 10.0, **args: Any) -> dict[str, Any]:
    """Ask the daemon behind `path`; raise RpcUnavailable if nobody answers."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(json.dumps({"op": op, **args}).encode() + b"\n")
            line = sock.makefile("rb").readline()
    except (OSError, TimeoutError) as exc:
        raise RpcUnavailable(f"nothing answers on {path} ({exc.__class__.__name__})") from None
    if not line:
        raise RpcUnavailable(f"{path} closed the connection without an answer")
    reply: dict[str, Any] = json.loads(line)
    if not reply.pop("ok", False):
        raise TandemError(str(reply.get("error", "refused")))
    return reply
