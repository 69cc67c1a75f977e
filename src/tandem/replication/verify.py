"""Online verify (DR-6): both replicas compared by checksum while in service; blocks that
differ are marked and resynced."""

from __future__ import annotations

from typing import Any

from tandem.replication import messages as m
from tandem.replication.bitmap import BLOCK
from tandem.replication.events import (
    Action,
    IoDone,
    LocalRead,
    Send,
)
from tandem.replication.state import (
    SYNC_INFLIGHT,
    SYNC_RUN,
    ReplicaState,
    digests,
)
from tandem.replication.states import Conn, Disk


class VerifyPath(ReplicaState):
    def _start_verify(self, out: list[Action]) -> None:
        if (
            self.conn != Conn.CONNECTED
            or self.disk != Disk.UP_TO_DATE
            or self.peer_disk != Disk.UP_TO_DATE
        ):
            self._notice(out, "refused", "verify needs both replicas Connected and UpToDate")
            return
        self.conn = Conn.VERIFY_SOURCE
        self.verify_cursor = 0
        self.verify_diff = 0
        self.verify_total = 0
        self._start_budget()
        self.sync_started = self.now
        out.append(Send(m.VerifyStart(self.cfg.blocks)))
        self._notice(out, "conn", "VerifySource: comparing both replicas by checksum")
        self._verify_step(out)

    def _verify_step(self, out: list[Action]) -> None:
        self._refill_budget()
        while (
            len(self.verify_reads) + len(self.verify_waiting) < SYNC_INFLIGHT
            and self.sync_budget > 0
            and self.verify_cursor < self.cfg.blocks
        ):
            start = self.verify_cursor
            count = min(SYNC_RUN, self.cfg.blocks - start)
            self.verify_cursor += count
            busy = any(b in self.busy_blocks for b in range(start, start + count))
            io = self._io("verify-read", ("source", start, b""))
            self.verify_reads[io] = (
                start,
                count,
                busy,
            )  # a run with writes in flight is not counted
            out.append(LocalRead(io, start * BLOCK, count * BLOCK))
            self.sync_budget -= count * BLOCK
        if (
            self.verify_cursor >= self.cfg.blocks
            and not self.verify_reads
            and not self.verify_waiting
        ):
            out.append(Send(m.VerifyDone(self.verify_diff)))
            self._verify_finished(self.verify_diff, out)

    def _verify_read_done(self, ev: IoDone, ctx: Any, out: list[Action]) -> None:
        side, start, theirs = ctx
        mine = digests(ev.data) if ev.ok and ev.data is not None else b""
        if side == "source":
            entry = self.verify_reads.pop(ev.io, None)
            if entry is None or not self.linked:
                return
            _, count, stale = entry
            self.verify_waiting[start] = (count, stale)
            out.append(Send(m.VerifyBlock(start, mine)))
            return
        differing = tuple(
            start + i
            for i in range(len(theirs) // 16)
            if mine[i * 16 : (i + 1) * 16] != theirs[i * 16 : (i + 1) * 16]
        )
        for b in differing:
            self.bitmap.set(b)
        out.append(Send(m.VerifyReply(start, differing)))

    def _verify_replied(self, msg: m.VerifyReply, out: list[Action]) -> None:
        count, stale = self.verify_waiting.pop(msg.block, (0, False))
        self.verify_total += count
        for b in msg.differing:
            self.bitmap.set(b)
        if not stale:  # blocks written meanwhile differ for a moment; they are not counted
            self.verify_diff += len(msg.differing)
        self._verify_step(out)

    def _verify_done_received(self, differing: int, out: list[Action]) -> None:
        self._verify_finished(differing, out)

    def _verify_finished(self, differing: int, out: list[Action]) -> None:
        self.runs += 1
        self.last_verify = {"blocks": self.cfg.blocks, "differing": differing, "run": self.runs}
        self._notice(
            out,
            "verified",
            f"verify done: {differing} of {self.cfg.blocks} blocks differ",
            differing=differing,
        )
        if self.conn == Conn.VERIFY_SOURCE and self.bitmap.count:
            self._become_sync_source(out, full=False)
        elif self.conn == Conn.VERIFY_SOURCE:
            self.conn = Conn.CONNECTED
        elif self.conn == Conn.VERIFY_TARGET:
            if self.bitmap.count:
                self._become_sync_target(out, self.gens.current, False)
            else:
                self.conn = Conn.CONNECTED

    def _verify_start_received(self, out: list[Action]) -> None:
        self.conn = Conn.VERIFY_TARGET
        self.verify_diff = 0
        self._notice(out, "conn", "VerifyTarget")

    def _verify_block_received(self, msg: m.VerifyBlock, out: list[Action]) -> None:
        io = self._io("verify-read", ("target", msg.block, msg.digest))
        out.append(LocalRead(io, msg.block * BLOCK, len(msg.digest) // 16 * BLOCK))
