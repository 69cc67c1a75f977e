"""The replication core: one replica's protocol, without I/O (DR-1..DR-8).

Events in (an application's write, flush or read on the Primary; a finished local I/O; a
message from the peer; the link going up or down; a tick; the failover logic's promote,
demote and outdate), actions out (local I/O, messages, completions, metadata to persist).
The protocol is in the parts this class combines, one concern each: primary.py,
secondary.py, link.py, resync.py, verify.py, roles.py, over the state in state.py.

The promises, and where they are kept:
- Protocol C (DR-1): a write completes when it is written locally and the peer
  acknowledged writing it; a flush completes when both made every earlier write durable
  (primary.py). B waits for the peer's receipt, A only for the local write.
- Never lose an acknowledged write (invariant 2): when the link fails, every block the peer
  has not made durable is marked in the bitmap, and the Primary writes on alone only after
  the peer is known Outdated, like DRBD's fence-peer handler (link.py).
- Stale data never becomes Primary by itself (invariant 3): a replica that lost its peer,
  or just started, is Consistent, not UpToDate, and is promoted only if the failover logic
  confirms the peer did not write alone, or by force (roles.py).
- Resync never overwrites the newer generation (invariant 4): generations.decide(), and a
  target is UpToDate only once the resynced blocks are durable (resync.py).
- After a crash of the Primary, the activity log's extents are resynced, so both replicas
  agree even on writes that were in flight (state.py, activity.py).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from tandem.errors import UsageError
from tandem.replication import messages as m
from tandem.replication.events import (
    Action,
    AppFlush,
    AppRead,
    AppWrite,
    Connect,
    Demote,
    DropLink,
    Event,
    Initialize,
    Invalidate,
    IoDone,
    LinkDown,
    LinkUp,
    OutdateRequested,
    PeerMsg,
    PeerOutdated,
    Promote,
    Resolve,
    Send,
    Tick,
    Verify,
)
from tandem.replication.link import LinkPath
from tandem.replication.primary import PrimaryPath
from tandem.replication.resync import ResyncPath
from tandem.replication.roles import RolesPath
from tandem.replication.secondary import SecondaryPath
from tandem.replication.state import PEER_FLUSH_INTERVAL, Meta, ReplicaConfig
from tandem.replication.states import Conn, Disk, Role
from tandem.replication.verify import VerifyPath

__all__ = ["Meta", "ReplicaConfig", "ReplicaCore"]

IO_KINDS = (
    "write",
    "flush",
    "read",
    "sync-write",
    "apply",
    "apply-flush",
    "sync-flush",
    "sync-read",
    "verify-read",
    "peer-read",
)


class ReplicaCore(PrimaryPath, SecondaryPath, LinkPath, ResyncPath, VerifyPath, RolesPath):
    """One replica's protocol: events in, actions out."""

    def handle(self, event: Event, now: float) -> list[Action]:
        self.now = now
        out: list[Action] = []
        handler = self._dispatch.get(type(event))
        if handler is None:
            raise UsageError(f"can't handle {type(event).__name__}")
        handler(event, out)
        return out

    @cached_property
    def _dispatch(self) -> dict[type, Callable[[Any, list[Action]], None]]:
        """Built once per replica: every event of a simulation run goes through it."""
        return {
            AppWrite: self._app_write,
            AppFlush: self._app_flush,
            AppRead: self._app_read,
            IoDone: self._io_done,
            PeerMsg: lambda ev, out: self._peer_msg(ev.msg, out),
            LinkUp: lambda _ev, out: self._link_up(out),
            LinkDown: lambda ev, out: self._link_down(ev.reason, out),
            Tick: lambda _ev, out: self._tick(out),
            Promote: self._promote,
            Demote: lambda _ev, out: self._demote(out),
            PeerOutdated: lambda ev, out: self._peer_outdated(ev.token, out),
            OutdateRequested: lambda ev, out: self._outdate_me(ev.token, out),
            Verify: lambda _ev, out: self._start_verify(out),
            Resolve: lambda ev, out: self._resolve(ev.discard_mine, out),
            Invalidate: lambda _ev, out: self._invalidate(out),
            Connect: lambda _ev, out: self._connect(out),
            Initialize: lambda _ev, out: self._initialize(out),
        }

    def _io_done(self, ev: IoDone, out: list[Action]) -> None:
        kind, ctx = self.ios.pop(ev.io, ("?", None))
        if kind == "meta":
            self._meta_done(ev.ok, out)
            return
        if not ev.ok and kind in IO_KINDS:
            self._detach(f"a local {kind} failed with an I/O error", out)
        done = {
            "write": self._local_write_done,
            "flush": self._local_write_done,
            "read": self._local_read_done,
            "apply": self._apply_done,
            "apply-flush": self._apply_flush_done,
            "sync-write": self._sync_write_done,
            "peer-read": self._peer_read_done,
            "sync-read": self._sync_read_done,
            "sync-flush": self._sync_flushed,
            "verify-read": self._verify_read_done,
        }.get(kind)
        if done is not None:
            done(ev, ctx, out)

    def _meta_done(self, ok: bool, out: list[Action]) -> None:
        self.meta_io = None
        if not ok:
            self._detach("the metadata could not be written", out)
        if self.meta_again:
            self.meta_again = False
            self._persist(out)
            return
        self._meta_durable(out)

    def _peer_msg(self, msg: Any, out: list[Action]) -> None:
        if isinstance(msg, m.Hello):
            self._hello_received(msg, out)
            return
        if not self.linked:
            return  # late traffic from a link that was already given up
        handlers: dict[type, Callable[[Any, list[Action]], None]] = {
            m.Data: self._data_received,
            m.Ack: lambda msg, out: self._acked(msg.seq, out),
            m.Flush: lambda msg, out: self._peer_flush(msg.seq, out),
            m.FlushAck: lambda msg, out: self._flush_acked(msg.seq, out),
            m.State: self._peer_state,
            m.SyncStart: self._sync_start_received,
            m.SyncData: self._enqueue_write,
            m.SyncAck: lambda msg, out: self._sync_acked(msg.block, out),
            m.SyncDone: lambda msg, out: self._sync_done_received(msg.current, out),
            m.VerifyStart: lambda _msg, out: self._verify_start_received(out),
            m.VerifyBlock: self._verify_block_received,
            m.VerifyReply: self._verify_replied,
            m.VerifyDone: lambda msg, out: self._verify_done_received(msg.differing, out),
            m.ReadReq: self._read_requested,
            m.ReadReply: self._read_replied,
        }
        handler = handlers.get(type(msg))
        if handler is not None:
            handler(msg, out)

    def _detach(self, reason: str, out: list[Action]) -> None:
        """DR-8: a failing local disk is dropped; the Primary serves through the peer."""
        if not self.has_disk:
            return
        self.disk = Disk.DISKLESS
        self.detach_reason = reason
        self._notice(
            out,
            "alarm",
            f"local disk detached: {reason}; serving through the peer if it is connected",
            reason=reason,
        )
        peer_has_it = self.linked and self.peer_disk == Disk.UP_TO_DATE and not self.frozen
        for r in list(self.requests.values()):
            if r.kind not in ("write", "flush"):
                continue
            if r.seq and peer_has_it and not r.held:
                r.local = True  # the peer's copy carries the request
                self._maybe_complete(r, out)
            else:
                # Its only copy was on the failed disk, or nowhere yet.
                self._finish(r, out, error="EIO: the local disk failed and no peer holds the data")
        self._state_msg(out)

    def _tick(self, out: list[Action]) -> None:
        if self.linked and self.peer_sent_at:
            oldest = next(iter(self.peer_sent_at.values()))
            if self.now - oldest > self.cfg.ack_timeout:
                out.append(DropLink(f"the peer did not answer for {self.cfg.ack_timeout:g} s"))
                self._link_down(f"no answer for {self.cfg.ack_timeout:g} s", out)
                return
        if (
            self.role == Role.PRIMARY
            and self.linked
            and self.unflushed
            and self.now - self.last_peer_flush >= PEER_FLUSH_INTERVAL
        ):
            self.seq += 1
            self.last_peer_flush = self.now
            out.append(Send(m.Flush(self.seq)))
        if self.conn == Conn.SYNC_SOURCE:
            self._sync_step(out)
        elif self.conn == Conn.VERIFY_SOURCE:
            self._verify_step(out)
