"""Resynchronisation (DR-4): the source reads dirty runs and sends them at the configured
rate; the target writes them and becomes UpToDate only once they are durable."""

from __future__ import annotations

from typing import Any

from tandem.replication import messages as m
from tandem.replication.bitmap import BLOCK, size_text
from tandem.replication.events import (
    Action,
    IoDone,
    LocalFlush,
    LocalRead,
    Send,
)
from tandem.replication.state import (
    SYNC_INFLIGHT,
    SYNC_RUN,
    ReplicaState,
    start_is_none,
)
from tandem.replication.states import Conn, Disk


class ResyncPath(ReplicaState):
    def _become_sync_source(self, out: list[Action], full: bool) -> None:
        # The generations showed that this replica holds the newer data.
        if self.disk in (Disk.CONSISTENT, Disk.OUTDATED):
            self.disk = Disk.UP_TO_DATE
        self.conn = Conn.SYNC_SOURCE
        self.sync_cursor = 0
        self.sync_total = self.bitmap.count
        self.sync_started = self.now
        self._start_budget()
        self.peer_disk = Disk.INCONSISTENT
        out.append(Send(m.SyncStart(self.gens.current, full, self.sync_total)))
        kind = "full sync" if full else "resync"
        self._notice(
            out,
            "conn",
            f"SyncSource: {kind} of {size_text(self.sync_total)}",
            blocks=self.sync_total,
        )
        self._persist(out)
        self._sync_step(out)

    def _become_sync_target(self, out: list[Action], target_gen: int, full: bool) -> None:
        self.peer_disk = Disk.UP_TO_DATE  # the source: its generations proved it current
        self.conn = Conn.SYNC_TARGET
        self.sync_target_gen = target_gen
        self.disk = Disk.INCONSISTENT
        self.target_ready = False
        if full:
            self.bitmap.set_all()
        self._notice(out, "conn", "SyncTarget: disk Inconsistent until the sync is complete")
        # No resync data touches the disk before it says Inconsistent: a power cut in
        # between must not leave newer blocks under an older generation that claims to
        # be consistent.
        epoch = self.epoch
        self._persist(out, lambda o: self._target_ready(epoch, o))

    def _target_ready(self, epoch: int, out: list[Action]) -> None:
        if epoch != self.epoch or self.conn != Conn.SYNC_TARGET:
            return
        self.target_ready = True
        self._drain_writes(out)
        if self.sync_done_pending is not None:
            current, self.sync_done_pending = self.sync_done_pending, None
            self._sync_done_received(current, out)

    def _sync_start_received(self, msg: m.SyncStart, out: list[Action]) -> None:
        if self.conn == Conn.SYNC_SOURCE:
            # Both new replicas were initialized at the same moment: neither may win.
            self._standalone(
                out, "both replicas were initialized at once: invalidate one, then connect"
            )
            return
        self.sync_target_gen = msg.current
        self.sync_total = msg.blocks
        self.sync_started = self.now
        if msg.full:
            self.bitmap.set_all()
        if self.conn != Conn.SYNC_TARGET:
            self._become_sync_target(out, msg.current, msg.full)

    def _invalidate_sync_reads(self, blocks: range) -> None:
        for io, (start, count, _) in list(self.sync_reads.items()):
            if start < blocks.stop and blocks.start < start + count:
                self.sync_reads[io] = (start, count, True)
        for io, (start, count, _) in list(self.verify_reads.items()):
            if start < blocks.stop and blocks.start < start + count:
                self.verify_reads[io] = (start, count, True)
        for start, (count, _) in list(self.verify_waiting.items()):
            if start < blocks.stop and blocks.start < start + count:
                self.verify_waiting[start] = (count, True)

    def _sync_step(self, out: list[Action]) -> None:
        self._refill_budget()
        inflight = len(self.sync_reads) + len(self.sync_unacked)
        while inflight < SYNC_INFLIGHT and self.sync_budget > 0:
            start = self.bitmap.next_set(self.sync_cursor)
            if start is None:
                break
            count = 1
            while (
                count < SYNC_RUN
                and start + count < self.cfg.blocks
                and self.bitmap.test(start + count)
            ):
                count += 1
            self.sync_cursor = start + count
            if any(s <= start < s + c for s, c in self.sync_unacked.items()):
                continue
            if any(b in self.busy_blocks for b in range(start, start + count)):
                # A write is in flight there: read after it lands, never overtake it.
                self.sync_deferred = True
                continue
            io = self._io("sync-read")
            self.sync_reads[io] = (start, count, False)
            out.append(LocalRead(io, start * BLOCK, count * BLOCK))
            self.sync_budget -= count * BLOCK
            inflight += 1
        if self.sync_deferred and start_is_none(self.bitmap, self.sync_cursor):
            self.sync_deferred = False
            self.sync_cursor = 0  # come back for the blocks that had writes in flight
        if not inflight:
            if self.bitmap.count == 0:
                self._sync_complete(out)
            else:
                self.sync_cursor = 0  # blocks dirtied again behind the cursor

    def _sync_read_done(self, ev: IoDone, _ctx: Any, out: list[Action]) -> None:
        entry = self.sync_reads.pop(ev.io, None)
        if entry is None or not self.linked:
            return
        start, count, stale = entry
        if stale or not ev.ok or ev.data is None:
            self.sync_cursor = min(self.sync_cursor, start)
            return  # an application wrote there meanwhile: read again later
        self.sync_unacked[start] = count
        out.append(Send(m.SyncData(start, ev.data)))

    def _sync_acked(self, start: int, out: list[Action]) -> None:
        count = self.sync_unacked.pop(start, 0)
        for b in range(start, start + count):
            self.bitmap.clear(b)
        self._sync_step(out)

    def _sync_complete(self, out: list[Action]) -> None:
        self.gens = self.gens.synced_with(self.gens.current)
        self.conn = Conn.CONNECTED
        self.peer_disk = Disk.UP_TO_DATE
        took = self._record_sync()
        self._notice(
            out,
            "synced",
            f"resync done: {size_text(self.sync_total)} in {took:.1f} s; Connected",
            blocks=self.sync_total,
            seconds=took,
        )
        out.append(Send(m.SyncDone(self.gens.current)))
        self._persist(out)

    def _record_sync(self) -> float:
        """For status: how much the finished resync moved and how long it took."""
        took = self.now - self.sync_started
        self.runs += 1
        self.last_sync = {
            "bytes": self.sync_total * BLOCK,
            "seconds": round(took, 3),
            "run": self.runs,
        }
        return took

    def _sync_done_received(self, current: int, out: list[Action]) -> None:
        if self.conn != Conn.SYNC_TARGET:
            return
        if not self.target_ready:
            self.sync_done_pending = current
            return
        # Every block is here, but maybe only in the disk's cache: flush before saying
        # UpToDate and taking the source's generation.
        out.append(LocalFlush(self._io("sync-flush", (self.epoch, current))))

    def _sync_flushed(self, ev: IoDone, ctx: Any, out: list[Action]) -> None:
        epoch, current = ctx
        if not ev.ok or epoch != self.epoch or self.conn != Conn.SYNC_TARGET:
            return
        self.gens = self.gens.synced_with(current)
        self.bitmap.clear_all()
        self.disk = Disk.UP_TO_DATE
        self.conn = Conn.CONNECTED
        self.target_ready = False
        self._record_sync()
        self._notice(
            out, "synced", f"resync done: {size_text(self.sync_total)}; disk UpToDate; Connected"
        )
        self._persist(out)
        self._state_msg(out)
