"""The replication link (DR-7): one TCP connection on the crossover network.

node1 listens, node2 connects, so there is never more than one connection to choose from.
Both prove knowledge of the cluster key before anything else crosses (challenge-response
with HMAC-SHA256 over both nonces and both node ids, each side its own label); a peer that
fails is refused, logged and counted, and both sides say why. With `[volume] encrypt` the
connection is wrapped in TLS with the cluster certificate first.

Frames go out with one sendmsg per batch (header and data as separate buffers, no joining)
and come in through a buffer that hands out whole frames.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import ssl
import struct
from collections import deque
from collections.abc import Callable
from typing import Any

import trio

from tandem.errors import ProtocolError
from tandem.replication.engine import codec

log = logging.getLogger("tandem.volume")

MAGIC = b"TANDEM-REPL1"
NONCE = 32
IOV_MAX = 512
RECV_CHUNK = 1 << 20


class AuthFailed(Exception):
    pass


class PeerHungUp(AuthFailed):
    """The peer closed before saying hello: it is StandAlone or has a link already."""


class Connection:
    """An established, authenticated link: frames in, frames out."""

    def __init__(self, stream: trio.abc.Stream, sock: trio.socket.SocketType | None) -> None:
        self.stream = stream
        self.sock = sock  # the raw socket when not encrypted: sendmsg without copies
        self.out: deque[tuple[bytes, bytes]] = deque()
        self.wakeup = trio.Event()
        self.closed = False
        self.buf = bytearray()
        self.pos = 0
        self.sent_bytes = 0
        self.received_bytes = 0

    def send(self, msg: Any) -> None:
        if not self.closed:
            self.out.append(codec.encode(msg))
            self.wakeup.set()

    async def writer(self) -> None:
        while not self.closed:
            if not self.out:
                self.wakeup = trio.Event()
                await self.wakeup.wait()
                continue
            buffers: list[bytes] = []
            while self.out and len(buffers) < IOV_MAX - 1:
                header, data = self.out.popleft()
                buffers.append(header)
                if data:
                    buffers.append(data)
            await self._send(buffers)

    async def _send(self, buffers: list[bytes]) -> None:
        if self.sock is None:
            await self.stream.send_all(b"".join(buffers))
            self.sent_bytes += sum(len(b) for b in buffers)
            return
        views = [memoryview(b) for b in buffers]
        while views:
            sent = await self.sock.sendmsg(views)
            self.sent_bytes += sent
            while views and sent >= len(views[0]):
                sent -= len(views[0])
                views.pop(0)
            if views and sent:
                views[0] = views[0][sent:]

    async def frames(self, on_frame: Callable[[Any], None], idle: float) -> None:
        """Read frames until the connection ends; silence for `idle` seconds ends it too."""
        while True:
            frame = self._next_frame()
            if frame is not None:
                on_frame(frame)
                continue
            with trio.move_on_after(idle) as scope:
                chunk = await self.stream.receive_some(RECV_CHUNK)
            if scope.cancelled_caught:
                raise ProtocolError(f"the peer was silent for {idle:g} s")
            if not chunk:
                raise ProtocolError("the peer closed the connection")
            self.received_bytes += len(chunk)
            if self.pos:
                del self.buf[: self.pos]
                self.pos = 0
            self.buf += chunk

    def _next_frame(self) -> Any:
        have = len(self.buf) - self.pos
        if have < codec.HEADER.size:
            return None
        tid, length = codec.HEADER.unpack_from(self.buf, self.pos)
        if length > codec.MAX_FRAME:
            raise ProtocolError(f"a frame of {length} bytes")
        if have < codec.HEADER.size + length:
            return None
        start = self.pos + codec.HEADER.size
        body = memoryview(self.buf)[start : start + length]
        try:
            msg = codec.decode(tid, body)
        finally:
            body.release()
        self.pos = start + length
        return msg

    async def close(self) -> None:
        self.closed = True
        self.wakeup.set()
        with trio.move_on_after(1):
            await self.stream.aclose()


def _proof(key: bytes, label: bytes, *parts: bytes) -> bytes:
    return hmac.new(key, label + b"".join(parts), hashlib.sha256).digest()


async def _read_exactly(stream: trio.abc.Stream, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = await stream.receive_some(n - len(data))
        if not chunk:
            if not data:
                raise PeerHungUp("the peer does not take the link (StandAlone or busy)")
            raise AuthFailed("the peer closed the connection during authentication")
        data += chunk
    return bytes(data)


async def authenticate(stream: trio.abc.Stream, key: bytes, me: int, server: bool) -> int:
    """Mutual challenge-response; returns the peer's node id or raises AuthFailed."""
    hello = struct.Struct(f">{len(MAGIC)}s{NONCE}sB")
    mine = secrets.token_bytes(NONCE)
    with trio.fail_after(5):
        if server:
            await stream.send_all(hello.pack(MAGIC, mine, me))
            magic, theirs, peer = hello.unpack(await _read_exactly(stream, hello.size))
            if magic != MAGIC:
                raise AuthFailed("the client is not a tandem replica")
            proof = await _read_exactly(stream, 32)
            ids = bytes([peer, me])
            if not hmac.compare_digest(proof, _proof(key, b"client", mine, theirs, ids)):
                await stream.send_all(b"\0" * 32)
                raise AuthFailed(f"node{peer} failed authentication: its cluster key differs")
            await stream.send_all(_proof(key, b"server", theirs, mine, ids))
            return int(peer)
        magic, theirs, peer = hello.unpack(await _read_exactly(stream, hello.size))
        if magic != MAGIC:
            raise AuthFailed("the server is not a tandem replica")
        ids = bytes([me, peer])
        await stream.send_all(
            hello.pack(MAGIC, mine, me) + _proof(key, b"client", theirs, mine, ids)
        )
        answer = await _read_exactly(stream, 32)
        if not hmac.compare_digest(answer, _proof(key, b"server", mine, theirs, ids)):
            raise AuthFailed(f"node{peer} refused our authentication: the cluster keys differ")
        return int(peer)


def tls_contexts(cert: str, key: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """Server and client contexts that trust exactly the cluster certificate."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    server.verify_mode = ssl.CERT_REQUIRED
    server.load_verify_locations(cert)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cert)
    client.load_cert_chain(cert, key)
    client.check_hostname = False
    return server, client
