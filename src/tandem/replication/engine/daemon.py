"""`tandem volume run`: the replication core on FUSE, the backing files and TCP.

One trio event loop (pyfuse3 requires trio) runs the FUSE workers, the link, a tick, the
RPC server and the outdate relay. Core events are queued and pumped, never handled
re-entrantly; actions that finish at once (a pwrite into the page cache, a pread) queue
their completion, and only slow ones (fdatasync, metadata) go to worker threads, so the
loop never waits on the disk.
"""

from __future__ import annotations

import errno
import logging
import secrets
import signal
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyfuse3
import trio

from tandem import rpc
from tandem.errors import ProtocolError, TandemError
from tandem.replication import messages as m
from tandem.replication.core import ReplicaConfig, ReplicaCore
from tandem.replication.engine import attach
from tandem.replication.engine.fusefs import VolumeFS
from tandem.replication.engine.fusetune import MAX_BACKGROUND, raise_background
from tandem.replication.engine.link import (
    AuthFailed,
    Connection,
    PeerHungUp,
    authenticate,
    tls_contexts,
)
from tandem.replication.engine.rpc_trio import serve_unix
from tandem.replication.engine.store import Store
from tandem.replication.events import (
    Action,
    AppFlush,
    AppRead,
    AppWrite,
    Complete,
    Connect,
    Demote,
    DropLink,
    Event,
    Initialize,
    Invalidate,
    IoDone,
    LinkDown,
    LinkUp,
    LocalFlush,
    LocalRead,
    LocalWrite,
    Notice,
    OutdateDone,
    OutdateRequested,
    PeerMsg,
    PeerOutdated,
    PersistMeta,
    Promote,
    RequestOutdate,
    Resolve,
    Send,
    Tick,
    Verify,
)
from tandem.replication.states import Conn, Role

log = logging.getLogger("tandem.volume")

TICK = 0.1
RETRY = 0.5
RELAY_POLL = 0.2
ERRNO = {"EIO": errno.EIO, "EROFS": errno.EROFS, "ENOSPC": errno.ENOSPC}


@dataclass(frozen=True)
class EngineSettings:
    node: int
    size: int
    protocol: str
    resync_rate: float
    ack_timeout: float
    listen: tuple[str, int] | None  # node1 listens on its crossover address
    connect: tuple[str, int] | None  # node2 connects to node1's
    key: bytes
    mountpoint: Path
    socket: Path
    membership: Path | None
    tls: tuple[str, str] | None = None  # certificate and key, when encrypted
    detach_on_stop: bool = False  # release /vz before the engine goes (a node's engine)


class VolumeEngine:
    def __init__(self, settings: EngineSettings, store: Store) -> None:
        self.s = settings
        self.store = store
        self.core: ReplicaCore | None = None
        self.queue: deque[Event] = deque()
        self.pumping = False
        self.req = 0
        self.waiters: dict[int, list[Any]] = {}
        self.conn: Connection | None = None
        self.nursery: trio.Nursery | None = None
        self.auth_failures = 0
        self.link_problem: str | None = None
        self.outdate_wire: dict[int, int] = {}  # core token -> token on the relay
        self.answered: set[int] = set()
        self.relay_info: dict[str, Any] = {}
        self.alarms: list[str] = []
        self.refusals: list[str] | None = None  # collected while an operator's op runs
        self.pending = 0  # application requests in flight (DRBD's "ap")
        self.pending_peak = 0

    # --- the pump --------------------------------------------------------------------

    def feed(self, event: Event) -> None:
        self.queue.append(event)
        if self.pumping:
            return
        self.pumping = True
        try:
            core = self.core
            assert core is not None
            while self.queue:
                for action in core.handle(self.queue.popleft(), trio.current_time()):
                    self.execute(action)
        finally:
            self.pumping = False

    def execute(self, a: Action) -> None:  # noqa: PLR0912 - a dispatch table
        if isinstance(a, LocalWrite):
            try:
                self.store.write(a.offset, a.data)
                self.queue.append(IoDone(a.io))
            except OSError:
                self.queue.append(IoDone(a.io, ok=False))
        elif isinstance(a, LocalRead):
            try:
                self.queue.append(IoDone(a.io, True, self.store.read(a.offset, a.length)))
            except OSError:
                self.queue.append(IoDone(a.io, ok=False))
        elif isinstance(a, LocalFlush):
            self._in_thread(a.io, self.store.flush)
        elif isinstance(a, PersistMeta):
            meta = dict(a.meta)
            self._in_thread(a.io, lambda: self.store.persist(meta))
        elif isinstance(a, Send):
            if self.conn is not None:
                self.conn.send(a.msg)
        elif isinstance(a, Complete):
            waiter = self.waiters.pop(a.req, None)
            if waiter is not None:
                waiter[1] = a
                waiter[0].set()
        elif isinstance(a, DropLink):
            self._drop_link(a.reason)
        elif isinstance(a, RequestOutdate):
            self.outdate_wire[a.token] = secrets.randbits(48)
        elif isinstance(a, OutdateDone):
            self.relay_info["done"] = a.token
        elif isinstance(a, Notice):
            if a.kind == "refused" and self.refusals is not None:
                self.refusals.append(a.sentence)
            if a.kind == "alarm":
                self.alarms.append(a.sentence)
                log.warning("%s", a.sentence)
            else:
                log.info("%s", a.sentence)

    def _in_thread(self, io: int, fn: Callable[[], None]) -> None:
        async def run() -> None:
            try:
                await trio.to_thread.run_sync(fn)
                ok = True
            except OSError as exc:
                log.error("local disk: %s", exc)
                ok = False
            self.feed(IoDone(io, ok))

        assert self.nursery is not None
        self.nursery.start_soon(run)

    # --- the filesystem's requests ---------------------------------------------------------

    async def submit(self, kind: str, offset: int, payload: Any) -> Any:
        self.req += 1
        req = self.req
        waiter: list[Any] = [trio.Event(), None]
        self.waiters[req] = waiter
        self.pending += 1
        self.pending_peak = max(self.pending_peak, self.pending)
        try:
            if kind == "write":
                self.feed(AppWrite(req, offset, payload))
            elif kind == "read":
                self.feed(AppRead(req, offset, int(payload)))
            else:
                self.feed(AppFlush(req))
            if waiter[1] is None:  # not completed within the pump (a local-only write)
                await waiter[0].wait()
        finally:
            self.pending -= 1
        done: Complete = waiter[1]
        if not done.ok:
            code = ERRNO.get(done.error.split(":", 1)[0], errno.EIO)
            raise pyfuse3.FUSEError(code)
        return done.data

    def why_not_writable(self) -> str | None:
        core = self.core
        if core is None or core.role != Role.PRIMARY:
            return "this replica is Secondary"
        return None

    # --- the link --------------------------------------------------------------------------

    async def link_loop(self) -> None:
        if self.s.listen is None and self.s.connect is None:
            return  # a replica without a peer (benchmarks; a node whose peer is retired)
        if self.s.listen is not None:
            host, port = self.s.listen
            listeners = await trio.open_tcp_listeners(port, host=host)
            await trio.serve_listeners(self._accepted, listeners)
        else:
            while True:
                await self._dial()
                await trio.sleep(RETRY)

    async def _dial(self) -> None:
        assert self.s.connect is not None
        if self._standalone():
            return  # it will not connect by itself (DRBD's StandAlone)
        host, port = self.s.connect
        try:
            stream = await trio.open_tcp_stream(host, port)
        except OSError:
            return
        await self._run_link(stream, server=False)

    async def _accepted(self, stream: trio.SocketStream) -> None:
        if self.conn is not None or self._standalone():
            await stream.aclose()  # one link at a time, none when StandAlone
            return
        await self._run_link(stream, server=True)

    async def _run_link(self, raw: trio.SocketStream, server: bool) -> None:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stream: trio.abc.Stream = raw
        sock: trio.socket.SocketType | None = raw.socket
        try:
            if self.s.tls is not None:
                server_ctx, client_ctx = tls_contexts(*self.s.tls)
                stream = trio.SSLStream(
                    raw, server_ctx if server else client_ctx, server_side=server
                )
                await stream.do_handshake()
                sock = None
            peer = await authenticate(stream, self.s.key, self.s.node, server)
        except PeerHungUp as exc:
            self.link_problem = str(exc)
            await raw.aclose()
            return
        except (AuthFailed, trio.BrokenResourceError, OSError, trio.TooSlowError) as exc:
            self.auth_failures += 1
            self.link_problem = f"the link was refused: {exc}"
            log.warning("%s", self.link_problem)
            await raw.aclose()
            await trio.sleep(2.0)
            return
        if peer == self.s.node or peer not in (1, 2):
            await raw.aclose()
            return
        self.link_problem = None
        conn = Connection(stream, sock)
        self.conn = conn
        self.feed(LinkUp())
        reason = "the connection ended"
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(conn.writer)
                nursery.start_soon(self._pinger, conn)
                try:
                    await conn.frames(self._frame, idle=self.s.ack_timeout)
                finally:
                    nursery.cancel_scope.cancel()
        except* (
            ProtocolError,
            trio.BrokenResourceError,
            trio.ClosedResourceError,
            OSError,
        ) as group:
            first = group.exceptions[0]
            reason = str(first) or type(first).__name__
        finally:
            self.conn = None
            await conn.close()
            self.feed(LinkDown(reason))

    def _frame(self, msg: Any) -> None:
        if isinstance(msg, m.Ping):
            if self.conn is not None:
                self.conn.send(m.Pong(msg.n))
        elif not isinstance(msg, m.Pong):
            self.feed(PeerMsg(msg))

    async def _pinger(self, conn: Connection) -> None:
        n = 0
        while not conn.closed:
            await trio.sleep(min(1.0, self.s.ack_timeout / 3))
            n += 1
            conn.send(m.Ping(n))

    def _standalone(self) -> bool:
        return self.core is not None and self.core.conn == Conn.STANDALONE

    def _drop_link(self, reason: str) -> None:
        conn = self.conn
        if conn is not None and self.nursery is not None:
            log.warning("dropping the replication link: %s", reason)
            self.nursery.start_soon(conn.close)

    # --- time, the relay, signals ----------------------------------------------------------

    async def ticker(self) -> None:
        while True:
            await trio.sleep(TICK)
            self.feed(Tick())

    async def relay(self) -> None:
        """Outdating the peer by the membership paths (DRBD's fence-peer): our request
        and the peer's answer ride on every heartbeat, so a broken replication link does
        not stop them."""
        membership = self.s.membership
        assert membership is not None
        sent: dict[str, Any] = {}
        while True:
            await trio.sleep(RELAY_POLL)
            core = self.core
            assert core is not None
            if core.frozen and core.outdate_token in self.outdate_wire:
                self.relay_info["req"] = self.outdate_wire[core.outdate_token]
            else:
                self.relay_info.pop("req", None)
            try:
                if self.relay_info != sent:
                    reply = await trio.to_thread.run_sync(
                        lambda: rpc.call(membership, "volume", info=dict(self.relay_info))
                    )
                    sent = dict(self.relay_info)
                    peer = reply["peer_volume"]
                else:
                    status = await trio.to_thread.run_sync(lambda: rpc.call(membership, "status"))
                    peer = status.get("volume", {}).get("peer", {})
            except TandemError:
                continue  # membership restarting; try again
            request = peer.get("req")
            if isinstance(request, int) and request not in self.answered:
                self.answered.add(request)
                self.feed(OutdateRequested(request))
            done = peer.get("done")
            for token, wire in list(self.outdate_wire.items()):
                if done == wire:
                    del self.outdate_wire[token]
                    self.feed(PeerOutdated(token))

    # --- operators -------------------------------------------------------------------------

    async def handle_rpc(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        core = self.core
        assert core is not None
        events: dict[str, Callable[[], Event]] = {
            "primary": lambda: Promote(bool(request.get("force")), bool(request.get("confirmed"))),
            "secondary": Demote,
            "verify": Verify,
            "invalidate": Invalidate,
            "connect": Connect,
            "initialize": Initialize,
            "resolve": lambda: Resolve(request.get("discard") == f"node{self.s.node}"),
        }
        if op == "status":
            return self.status()
        if op == "outdate-peer":
            if not core.frozen:
                raise TandemError("I/O is not frozen: there is no outdate to confirm")
            log.warning("the operator confirms that the peer is down: writing on alone")
            self.feed(PeerOutdated(core.outdate_token))
            return self.status()
        if op == "outdate":
            # The witness records this replica Outdated: its peer wrote without it.
            if core.role == Role.PRIMARY or core.linked:
                raise TandemError("only a Secondary without its peer can be marked Outdated")
            log.warning("marking this replica Outdated: %s", request.get("reason", "asked to"))
            self.feed(OutdateRequested(0))
            return self.status()
        make = events.get(str(op))
        if make is None:
            raise TandemError(
                f"unknown op {op!r}; the volume knows status, outdate, outdate-peer, "
                f"{', '.join(events)}"
            )
        if op == "resolve" and request.get("discard") not in ("node1", "node2"):
            raise TandemError("resolve needs --discard node1 or node2")
        self.refusals = []
        try:
            self.feed(make())
            refused = self.refusals
        finally:
            self.refusals = None
        if refused:
            # The operator hears why, as an error: nothing was changed.
            raise TandemError("; ".join(s.split(": ", 1)[1] for s in refused))
        return self.status()

    def status(self) -> dict[str, Any]:
        core = self.core
        assert core is not None
        info = core.status()
        info["node"] = f"node{self.s.node}"
        info["peer"] = f"node{3 - self.s.node}"
        info["size"] = self.s.size
        info["link"] = {
            "problem": self.link_problem,
            "auth_failures": self.auth_failures,
            "sent_bytes": self.conn.sent_bytes if self.conn else 0,
            "received_bytes": self.conn.received_bytes if self.conn else 0,
            "encrypted": self.s.tls is not None,
        }
        info["alarms"] = list(self.alarms[-10:])
        info["pending"] = {"now": self.pending, "peak": self.pending_peak}
        self.pending_peak = self.pending
        return info

    # --- running ---------------------------------------------------------------------------

    async def run(self) -> None:
        meta = self.store.open()
        cfg = ReplicaConfig(
            self.s.node, self.store.blocks, self.s.protocol, self.s.ack_timeout, self.s.resync_rate
        )
        self.core = ReplicaCore(cfg, meta, trio.current_time(), lambda: secrets.randbits(62) | 1)
        self.s.mountpoint.mkdir(parents=True, exist_ok=True)
        fs = VolumeFS(self.s.size, self.submit, self.why_not_writable)
        options = set(pyfuse3.default_options)
        options.add(f"fsname=tandem-volume-node{self.s.node}")
        pyfuse3.init(fs, str(self.s.mountpoint), options)
        log.info("%s", raise_background(self.s.mountpoint))
        log.info(
            "volume of node%s up: %s, protocol %s, %s",
            self.s.node,
            self.s.mountpoint,
            self.s.protocol,
            core_summary(self.core),
        )
        try:
            async with trio.open_nursery() as nursery:
                self.nursery = nursery
                nursery.start_soon(pyfuse3.main, 1, MAX_BACKGROUND)
                nursery.start_soon(self.ticker)
                nursery.start_soon(self.link_loop)
                nursery.start_soon(serve_unix, self.s.socket, self.handle_rpc)
                if self.s.membership is not None:
                    nursery.start_soon(self.relay)
                with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for _ in signals:
                        log.info("stopping")
                        if self.s.detach_on_stop:
                            await self._release_volume()
                        nursery.cancel_scope.cancel()
                        break
        finally:
            pyfuse3.close(unmount=True)
            self.store.close()
            self.s.socket.unlink(missing_ok=True)
        log.info("volume of node%s down", self.s.node)

    async def _release_volume(self) -> None:
        """/vz lives on this process: unmount it while the engine still serves, or ext4
        loses its device and aborts its journal."""
        if attach.attached() is None:
            return
        log.warning("stopping while the volume is attached: detaching /vz first")
        try:
            await trio.to_thread.run_sync(attach.detach)
        except TandemError as exc:
            log.error("stopping with /vz still mounted (%s): ext4 on it will fail", exc)


def core_summary(core: ReplicaCore) -> str:
    return f"disk {core.disk.value}, generation {core.gens.current:x}"
