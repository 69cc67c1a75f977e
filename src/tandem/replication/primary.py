"""The Primary's path: applications' writes, flushes and reads, protocols A/B/C, and
waiting for the peer's acknowledgements (DR-1)."""

from __future__ import annotations

import functools
from typing import Any

from tandem.replication import messages as m
from tandem.replication.activity import EXTENT_BLOCKS
from tandem.replication.bitmap import BLOCK, blocks_of
from tandem.replication.events import (
    Action,
    AppFlush,
    AppRead,
    AppWrite,
    Complete,
    IoDone,
    LocalFlush,
    LocalRead,
    LocalWrite,
    Send,
)
from tandem.replication.state import (
    ReplicaState,
    Request,
)
from tandem.replication.states import Disk, Role


class PrimaryPath(ReplicaState):
    def _app_write(self, ev: AppWrite, out: list[Action]) -> None:
        if self.role != Role.PRIMARY:
            out.append(Complete(ev.req, False, error="EROFS: this replica is Secondary"))
            return
        blocks = blocks_of(ev.offset, len(ev.data))
        if blocks.stop > self.cfg.blocks:
            out.append(Complete(ev.req, False, error="ENOSPC: beyond the end of the volume"))
            return
        r = Request(ev.req, "write", blocks, data=ev.data, offset=ev.offset)
        self.requests[ev.req] = r
        queued = any(
            w.blocks.start < blocks.stop and blocks.start < w.blocks.stop for w in self.overlapping
        )
        if queued or any(b in self.busy_blocks for b in blocks):
            # Concurrent overlapping writes may finish in any order on each disk; the
            # replicas must agree, so this one waits for the earlier one to complete.
            self.overlapping.append(r)
            return
        self._start_write(r, out)

    def _write_after_log(self, r: Request, out: list[Action]) -> None:
        self._issue_write(r, out)

    def _busy_extents(self) -> set[int]:
        busy: set[int] = set()
        for r in self.requests.values():
            if r.kind == "write" and r.blocks:
                busy.update(
                    range(r.blocks.start // EXTENT_BLOCKS, (r.blocks.stop - 1) // EXTENT_BLOCKS + 1)
                )
        return busy

    def _start_write(self, r: Request, out: list[Action]) -> None:
        blocks = r.blocks
        for b in blocks:
            self.busy_blocks[b] = self.busy_blocks.get(b, 0) + 1
        self._invalidate_sync_reads(blocks)
        missing = self.al.missing(blocks) if self.has_disk else []
        if missing:
            evicted = self.al.add(missing, self._busy_extents())
            if evicted:
                # The bits of an extent leaving the log must be on disk first: they are
                # in this same metadata write.
                self._notice(out, "al", f"activity log evicts extents {evicted}")
            self._persist(out, functools.partial(self._write_after_log, r))
        else:
            self._issue_write(r, out)

    def _issue_write(self, r: Request, out: list[Action]) -> None:
        assert r.data is not None
        to_peer = (
            self.linked
            and not self.frozen
            and self.peer_disk in (Disk.UP_TO_DATE, Disk.INCONSISTENT)
        )
        if not self.has_disk and not (to_peer and self.peer_disk == Disk.UP_TO_DATE):
            self._finish(r, out, error="EIO: no replica with current data is reachable")
            return
        if self.has_disk:
            out.append(LocalWrite(self._io("write", r.req), r.offset, r.data))
        else:
            r.local = True
        if to_peer:
            self.seq += 1
            r.seq = self.seq
            out.append(Send(m.Data(self.seq, r.offset, r.data)))
            self.unflushed[self.seq] = r.blocks
            if self.cfg.protocol == "A":
                r.peer = True
            else:
                self.peer_pending[self.seq] = r.req
                self.peer_sent_at[self.seq] = self.now
        elif self.frozen:
            # Held until the peer is known Outdated or comes back; either way it will
            # have to get this block from the bitmap.
            r.held = True
            for b in r.blocks:
                self.bitmap.set(b)
        else:
            for b in r.blocks:
                self.bitmap.set(b)
            r.peer = True
        self._maybe_complete(r, out)

    def _app_flush(self, ev: AppFlush, out: list[Action]) -> None:
        if self.role != Role.PRIMARY:
            out.append(Complete(ev.req, False, error="EROFS: this replica is Secondary"))
            return
        r = Request(ev.req, "flush")
        self.requests[ev.req] = r
        if self.lost_writes:
            self.lost_writes = False
            self._finish(
                r,
                out,
                error="EIO: acknowledged writes were lost with the peer "
                "while the local disk was failed",
            )
            return
        peer_ok = self.linked and self.peer_disk == Disk.UP_TO_DATE
        if not self.has_disk and not peer_ok:
            self._finish(r, out, error="EIO: no replica with current data is reachable")
            return
        if self.has_disk:
            out.append(LocalFlush(self._io("flush", ev.req)))
        else:
            r.local = True
        if (
            self.linked
            and self.peer_disk in (Disk.UP_TO_DATE, Disk.INCONSISTENT)
            and not self.frozen
        ):
            self.seq += 1
            r.seq = self.seq
            out.append(Send(m.Flush(self.seq)))
            self.last_peer_flush = self.now
            if self.cfg.protocol == "C":
                self.peer_pending[self.seq] = r.req
                self.peer_sent_at[self.seq] = self.now
            else:
                r.peer = True
        elif not self.frozen:
            r.peer = True
        else:
            r.held = True
        self._maybe_complete(r, out)

    def _app_read(self, ev: AppRead, out: list[Action]) -> None:
        if self.role != Role.PRIMARY:
            out.append(Complete(ev.req, False, error="EROFS: this replica is Secondary"))
            return
        r = Request(ev.req, "read", blocks_of(ev.offset, ev.length), offset=ev.offset)
        self.requests[ev.req] = r
        if self.has_disk and self.disk != Disk.INCONSISTENT:
            out.append(LocalRead(self._io("read", ev.req), ev.offset, ev.length))
        elif self.linked and self.peer_disk == Disk.UP_TO_DATE:
            self.reads_from_peer[ev.req] = ev.req
            out.append(Send(m.ReadReq(ev.req, ev.offset, ev.length)))
        else:
            self._finish(r, out, error="EIO: no replica with good data is reachable")

    def _maybe_complete(self, r: Request, out: list[Action]) -> None:
        if r.local and r.peer and r.req in self.requests:
            self._finish(r, out)

    def _finish(
        self, r: Request, out: list[Action], error: str = "", data: bytes | None = None
    ) -> None:
        if self.requests.pop(r.req, None) is None:
            return
        out.append(Complete(r.req, not error, data, error))
        if r in self.overlapping:
            self.overlapping.remove(r)
        elif r.kind == "write":
            for b in r.blocks:
                left = self.busy_blocks.get(b, 0) - 1
                if left > 0:
                    self.busy_blocks[b] = left
                else:
                    self.busy_blocks.pop(b, None)
            self._start_overlapping(out)

    def _start_overlapping(self, out: list[Action]) -> None:
        """Start queued writes in their order; one still blocked blocks those behind it
        that overlap it."""
        waiting, self.overlapping = self.overlapping, []
        for w in waiting:
            if w.req not in self.requests:
                continue
            behind = any(
                q.blocks.start < w.blocks.stop and w.blocks.start < q.blocks.stop
                for q in self.overlapping
            )
            if behind or any(b in self.busy_blocks for b in w.blocks):
                self.overlapping.append(w)
            else:
                self._start_write(w, out)

    def _acked(self, seq: int, out: list[Action]) -> None:
        """Every write up to `seq` is on the peer; flushes wait for their FlushAck."""
        for s in [s for s in self.peer_pending if s <= seq]:
            r = self.requests.get(self.peer_pending[s])
            if r is not None and r.kind == "flush":
                continue
            del self.peer_pending[s]
            self.peer_sent_at.pop(s, None)
            if r is not None:
                r.peer = True
                self._maybe_complete(r, out)

    def _flush_acked(self, seq: int, out: list[Action]) -> None:
        for s in [s for s in self.unflushed if s < seq]:
            del self.unflushed[s]
        req = self.peer_pending.pop(seq, None)
        self.peer_sent_at.pop(seq, None)
        if req is not None:
            r = self.requests.get(req)
            if r is not None:
                r.peer = True
                self._maybe_complete(r, out)
        self._acked(seq, out)

    def _local_write_done(self, _ev: IoDone, ctx: Any, out: list[Action]) -> None:
        r = self.requests.get(ctx)
        if r is not None:
            r.local = True
            self._maybe_complete(r, out)

    def _local_read_done(self, ev: IoDone, ctx: Any, out: list[Action]) -> None:
        r = self.requests.get(ctx)
        if r is None:
            return
        if ev.ok:
            self._finish(r, out, data=ev.data)
        elif self.linked and self.peer_disk == Disk.UP_TO_DATE:
            self.reads_from_peer[r.req] = r.req
            out.append(Send(m.ReadReq(r.req, r.offset, len(r.blocks) * BLOCK)))
        else:
            self._finish(r, out, error="EIO: the local disk failed")

    def _read_replied(self, msg: m.ReadReply, out: list[Action]) -> None:
        req = self.reads_from_peer.pop(msg.id, None)
        r = self.requests.get(req) if req is not None else None
        if r is None:
            return
        if msg.data is None:
            self._finish(r, out, error="EIO: the peer could not read either")
        else:
            self._finish(r, out, data=msg.data)
