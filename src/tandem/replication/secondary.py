"""The Secondary's path: the peer's writes and resync blocks written in order, flushes,
acknowledgements, and being outdated (DR-1, DR-3)."""

from __future__ import annotations

from typing import Any

from tandem.replication import messages as m
from tandem.replication.bitmap import BLOCK
from tandem.replication.events import (
    Action,
    IoDone,
    LocalFlush,
    LocalRead,
    LocalWrite,
    OutdateDone,
    Send,
)
from tandem.replication.state import (
    ReplicaState,
    msg_blocks,
    overlap,
)
from tandem.replication.states import Conn, Disk, Role


class SecondaryPath(ReplicaState):
    def _enqueue_write(self, msg: m.Data | m.SyncData, out: list[Action]) -> None:
        """The peer's writes and resync blocks are written in the order they came; one that
        overlaps a write still in flight waits for it, and a sync target writes nothing
        before its Inconsistent state is on disk."""
        if not self.has_disk:
            return  # never acknowledge what is not stored; our State(Diskless) is on its way
        self.write_queue.append(msg)
        self._drain_writes(out)

    def _drain_writes(self, out: list[Action]) -> None:
        if self.conn == Conn.SYNC_TARGET and not self.target_ready:
            return
        waiting, self.write_queue = self.write_queue, []
        for msg in waiting:
            blocks = msg_blocks(msg)
            behind = any(overlap(blocks, msg_blocks(q)) for q in self.write_queue)
            if behind or any(b in self.sec_busy for b in blocks):
                self.write_queue.append(msg)
                continue
            for b in blocks:
                self.sec_busy[b] = self.sec_busy.get(b, 0) + 1
            if isinstance(msg, m.Data):
                ctx = (self.epoch, msg.seq, blocks)
                out.append(LocalWrite(self._io("apply", ctx), msg.offset, msg.data))
            else:
                ctx2 = (self.epoch, msg.block, len(msg.data) // BLOCK, blocks)
                out.append(LocalWrite(self._io("sync-write", ctx2), msg.block * BLOCK, msg.data))

    def _write_landed(self, blocks: range, out: list[Action]) -> None:
        for b in blocks:
            left = self.sec_busy.get(b, 0) - 1
            if left > 0:
                self.sec_busy[b] = left
            else:
                self.sec_busy.pop(b, None)
        if self.write_queue:
            self._drain_writes(out)

    def _applied(self, seq: int, out: list[Action]) -> None:
        self.apply_done.add(seq)
        before = self.applied
        while self.applied + 1 in self.apply_done:
            self.applied += 1
            self.apply_done.discard(self.applied)
        # Flushes and other non-data sequence numbers in between are complete by now.
        while self.flush_wait and self.flush_wait[0] <= self.applied + 1:
            self._do_peer_flush(self.flush_wait.pop(0), out)
        if self.applied != before and self.cfg.protocol == "C" and not self.acks_held:
            out.append(Send(m.Ack(self.applied)))

    def _peer_flush(self, seq: int, out: list[Action]) -> None:
        # Every Data before this flush must be written before the flush starts.
        self.apply_done.add(seq)
        if self.applied + 1 == seq:
            self.applied = seq
            while self.applied + 1 in self.apply_done:
                self.applied += 1
                self.apply_done.discard(self.applied)
            self._do_peer_flush(seq, out)
        else:
            self.flush_wait.append(seq)

    def _do_peer_flush(self, seq: int, out: list[Action]) -> None:
        if self.has_disk:
            out.append(LocalFlush(self._io("apply-flush", (self.epoch, seq))))

    def _release_acks(self, out: list[Action]) -> None:
        self.acks_held = False
        if self.applied and self.cfg.protocol == "C":
            out.append(Send(m.Ack(self.applied)))
        for seq in self.held_flush_acks:
            out.append(Send(m.FlushAck(seq)))
        self.held_flush_acks.clear()

    def _outdate_me(self, token: int, out: list[Action]) -> None:
        """The Primary asks, by another way than the link, that we mark ourselves Outdated."""
        if self.role == Role.PRIMARY or self.linked:
            return
        if self.disk in (Disk.UP_TO_DATE, Disk.CONSISTENT):
            self.disk = Disk.OUTDATED
            self._notice(out, "disk", "Outdated at the Primary's request")
        self._persist(out, lambda o: o.append(OutdateDone(token)))

    def _data_received(self, msg: m.Data, out: list[Action]) -> None:
        if self.has_disk and self.cfg.protocol == "B":
            out.append(Send(m.Ack(msg.seq)))  # B: received is enough
        self._enqueue_write(msg, out)

    def _apply_done(self, ev: IoDone, ctx: Any, out: list[Action]) -> None:
        epoch, seq, blocks = ctx
        self._write_landed(blocks, out)
        if ev.ok and epoch == self.epoch:
            self._applied(seq, out)

    def _apply_flush_done(self, ev: IoDone, ctx: Any, out: list[Action]) -> None:
        epoch, seq = ctx
        if not ev.ok or epoch != self.epoch:
            return
        if self.acks_held:
            self.held_flush_acks.append(seq)
        else:
            out.append(Send(m.FlushAck(seq)))

    def _sync_write_done(self, ev: IoDone, ctx: Any, out: list[Action]) -> None:
        epoch, start, count, blocks = ctx
        self._write_landed(blocks, out)
        if not ev.ok:
            return
        for b in range(start, start + count):
            self.bitmap.clear(b)
        if epoch == self.epoch:
            out.append(Send(m.SyncAck(start)))

    def _read_requested(self, msg: m.ReadReq, out: list[Action]) -> None:
        """The peer lost its disk and reads through us (DR-8)."""
        if self.has_disk:
            io = self._io("peer-read", (self.epoch, msg.id))
            out.append(LocalRead(io, msg.offset, msg.length))
        else:
            out.append(Send(m.ReadReply(msg.id, None)))

    def _peer_read_done(self, ev: IoDone, ctx: Any, out: list[Action]) -> None:
        epoch, read_id = ctx
        if epoch == self.epoch:
            out.append(Send(m.ReadReply(read_id, ev.data if ev.ok else None)))
