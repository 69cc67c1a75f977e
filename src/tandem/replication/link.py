"""The link: connecting, the handshake that compares generations (DR-5), losing the peer,
freezing I/O until the peer is known Outdated, writing on alone."""

from __future__ import annotations

from tandem.replication import messages as m
from tandem.replication.bitmap import size_text
from tandem.replication.events import (
    Action,
    DropLink,
    RequestOutdate,
    Send,
)
from tandem.replication.generations import Generations, decide
from tandem.replication.state import (
    ReplicaState,
)
from tandem.replication.states import LINKED, Conn, Disk, Role


class LinkPath(ReplicaState):
    def _connect(self, out: list[Action]) -> None:
        if self.conn == Conn.STANDALONE:
            self.conn = Conn.CONNECTING
            self.standalone_reason = ""
            self._notice(out, "conn", "Connecting")

    def _link_up(self, out: list[Action]) -> None:
        if self.conn == Conn.STANDALONE:
            out.append(DropLink(f"StandAlone: {self.standalone_reason}"))
            return
        self._new_epoch()
        self.handshakes += 1
        self.lost_current = False
        out.append(Send(self._hello()))

    def _hello(self) -> m.Hello:
        return m.Hello(
            node=self.cfg.node,
            size=self.cfg.blocks,
            current=self.gens.current,
            bitmap=self.gens.bitmap,
            history=self.gens.history,
            disk=self.disk.value,
            primary=self.role == Role.PRIMARY,
            dirty=tuple(self.bitmap.ranges()),
            was_primary=self.was_primary,
        )

    def _new_epoch(self) -> None:
        """A new connection: both sides count from zero, and completions of I/O started
        for the old one send nothing on the new one."""
        self.epoch += 1
        self.seq = 0
        # Acks of the old connection will never come; its writes were marked held.
        self.peer_pending.clear()
        self.peer_sent_at.clear()
        self.unflushed.clear()
        self.applied = 0
        self.apply_done.clear()
        self.flush_wait.clear()
        self.held_flush_acks.clear()
        self.target_ready = False
        self.write_queue.clear()
        self.sync_done_pending = None

    def _link_down(self, reason: str, out: list[Action]) -> None:
        was = self.conn
        if was == Conn.STANDALONE:
            return
        try:
            self._lose_peer(was, reason, out)
        finally:
            self._new_epoch()

    def _lose_peer(self, was: Conn, reason: str, out: list[Action]) -> None:
        self.conn = Conn.CONNECTING
        self.sync_reads.clear()
        self.sync_unacked.clear()
        self.verify_reads.clear()
        self.verify_waiting.clear()
        for req in list(self.reads_from_peer):
            r = self.requests.get(req)
            if r is not None:
                self._finish(r, out, error="EIO: the peer went away during the read")
        self.reads_from_peer.clear()
        if was not in LINKED:
            return
        self._notice(out, "conn", f"lost the peer ({reason}); Connecting")
        peer_promotable = self.peer_disk in (Disk.UP_TO_DATE, Disk.CONSISTENT)
        self.peer_disk = None
        self.peer_primary = False
        if self.role == Role.PRIMARY and not self.has_disk:
            self._diskless_primary_alone(out)
        elif self.role == Role.PRIMARY:
            self._primary_alone(peer_promotable, out)
        elif self.disk == Disk.UP_TO_DATE:
            # Consistent: the peer may write alone from now on. But it was current at this
            # moment, which a takeover after fencing the peer may rely on (the peer cannot
            # have acknowledged a write without us unless it outdated us first).
            self.disk = Disk.CONSISTENT
            self.lost_current = True
            self._persist(out)

    def _diskless_primary_alone(self, out: list[Action]) -> None:
        """Without a local disk the peer held the only current data: nothing can be written
        now, and the peer must certainly not be outdated. Writes it had not flushed may be
        gone: the next flush says so, as a disk's would (errseq)."""
        if self.unflushed or self.peer_pending:
            self.lost_writes = True
        for r in list(self.requests.values()):
            if r.kind in ("write", "flush"):
                self._finish(r, out, error="EIO: the local disk failed and the peer is away")
        self.peer_pending.clear()
        self.peer_sent_at.clear()
        self.unflushed.clear()
        self._notice(
            out, "alarm", "Diskless Primary without its peer: I/O fails until the peer is back"
        )

    def _primary_alone(self, peer_promotable: bool, out: list[Action]) -> None:
        # Everything the peer may not have made durable is out of sync now.
        for blocks in self.unflushed.values():
            for b in blocks:
                self.bitmap.set(b)
        for req in self.peer_pending.values():
            r = self.requests.get(req)
            if r is not None:
                r.held = True
                for b in r.blocks:
                    self.bitmap.set(b)
        self.unflushed.clear()
        self.peer_sent_at.clear()
        if not peer_promotable:
            self._go_alone(out)
            return
        self.frozen = True
        self.outdate_token += 1
        self._notice(
            out, "freeze", "I/O frozen until the peer is known Outdated or comes back (fence-peer)"
        )
        out.append(RequestOutdate(self.outdate_token))

    def _peer_outdated(self, token: int, out: list[Action]) -> None:
        if not self.frozen or token != self.outdate_token or self.linked:
            return
        self._notice(out, "outdated", "the peer is Outdated; writing on alone")
        self._go_alone(out)

    def _go_alone(self, out: list[Action]) -> None:
        """The Primary continues without its peer: a new generation, changes in the bitmap.
        Held writes complete once the new generation is on disk."""
        if self.has_disk:
            self.gens = self.gens.started_alone(self.new_id())

        handshake = self.handshakes

        def release(o: list[Action]) -> None:
            if handshake != self.handshakes:
                return  # the peer came back meanwhile; its handshake released everything
            self.frozen = False
            # Writes still waiting for the peer will not be acknowledged (it is away, or
            # has no disk): they stand on the local copy, and the bitmap remembers them.
            for req in self.peer_pending.values():
                r = self.requests.get(req)
                if r is not None:
                    r.held = True
                    for b in r.blocks:
                        self.bitmap.set(b)
            self.peer_pending.clear()
            self.peer_sent_at.clear()
            self._release_held(o)

        self._persist(out, release)

    def _hello_received(self, h: m.Hello, out: list[Action]) -> None:
        if self.linked:
            return
        if h.size != self.cfg.blocks:
            self._standalone(
                out, f"the volumes differ in size ({h.size} and {self.cfg.blocks} blocks)"
            )
            return
        if h.primary and self.role == Role.PRIMARY:
            self._standalone(out, "both replicas are Primary: split brain")
            return
        self.peer_disk = Disk(h.disk)
        self.peer_primary = h.primary
        peer_gens = Generations(h.current, h.bitmap, tuple(h.history))
        d = decide(self.gens, peer_gens)
        if Disk.DISKLESS in (self.disk, self.peer_disk):
            self._diskless_handshake(d.direction, out)
            return
        verdict = self._sync_direction(h, d.direction, d.full)
        if isinstance(verdict, str):
            self._standalone(out, verdict)
            return
        direction, full = verdict
        for start, count in h.dirty:
            self.bitmap.set_range(start, count)
        if full and direction == "source":
            self.bitmap.set_all()
        self.split = None
        if direction == "source":
            self._become_sync_source(out, full)
        elif direction == "target":
            self._become_sync_target(out, peer_gens.current, full)
        elif direction == "idle":
            self.conn = Conn.CONNECTED
            self._notice(
                out,
                "conn",
                "Connected, both replicas Inconsistent: `tandem volume initialize` on the node "
                "whose data counts starts the full sync (seed 7.3)",
            )
        else:
            self._connected_in_sync(d.reason, out)
        self.frozen = False
        self.last_peer_flush = self.now
        self._release_held(out)

    def _sync_direction(self, h: m.Hello, direction: str, full: bool) -> tuple[str, bool] | str:
        """Adjust the generations' verdict to the disks' states; a string is the reason to
        stay StandAlone (never resolved by silently discarding changes, DR-5)."""
        mine_dirty = self.bitmap.count
        peer_dirty = sum(c for _, c in h.dirty)
        incomplete = self.disk == Disk.INCONSISTENT
        peer_incomplete = self.peer_disk == Disk.INCONSISTENT
        if direction == "none":
            if incomplete and peer_incomplete:
                return "idle", False  # two new replicas: connected, waiting for initialize
            if incomplete or peer_incomplete:
                direction = "target" if incomplete else "source"
            elif mine_dirty or peer_dirty:
                direction = "source" if self._wins_tie(h) else "target"
        elif direction == "split-brain":
            self.split = {"mine": mine_dirty, "peer": peer_dirty}
            if mine_dirty == 0 and self.role != Role.PRIMARY:
                direction = "target"  # discard-zero-changes: nothing of ours is lost
            elif peer_dirty == 0 and not h.primary:
                direction = "source"
            else:
                return (
                    f"split brain: node{self.cfg.node} changed {size_text(mine_dirty)} and "
                    f"node{h.node} changed {size_text(peer_dirty)} since they last agreed; "
                    "resolve with `tandem volume resolve --discard NODE`"
                )
        elif direction == "unrelated":
            # An incomplete replica has nothing to lose: it takes a full sync.
            if incomplete == peer_incomplete:
                return "the replicas share no generation (unrelated data)"
            direction, full = ("target" if incomplete else "source"), True
        source_incomplete = incomplete if direction == "source" else peer_incomplete
        if direction in ("source", "target") and source_incomplete:
            return (
                "the replica with the newer generation is Inconsistent: no complete copy of "
                "the data exists"
            )
        if direction == "target" and self.role == Role.PRIMARY:
            return "the Primary's data is older than the peer's"
        return direction, full

    def _connected_in_sync(self, reason: str, out: list[Action]) -> None:
        self.conn = Conn.CONNECTED
        self.bitmap.clear_all()
        peer_complete = (Disk.UP_TO_DATE, Disk.CONSISTENT, Disk.OUTDATED)
        if self.has_disk and self.peer_disk in peer_complete:
            self.disk = Disk.UP_TO_DATE
        if self.peer_disk in (Disk.CONSISTENT, Disk.OUTDATED):
            self.peer_disk = Disk.UP_TO_DATE
        self._notice(out, "conn", f"Connected ({reason}), disk {self.disk.value}")
        self._persist(out)

    def _diskless_handshake(self, direction: str, out: list[Action]) -> None:
        """One side has no disk: nothing to sync, but the generations still say whether
        the side with a disk holds current data. Stale data is never served (DR-8)."""
        self.conn = Conn.CONNECTED
        if self.disk == Disk.DISKLESS:
            if direction in ("none", "target") and self.peer_disk in (
                Disk.UP_TO_DATE,
                Disk.CONSISTENT,
            ):
                self.peer_disk = Disk.UP_TO_DATE
                self._notice(out, "conn", "Connected, Diskless: serving through the peer")
            else:
                self.peer_disk = Disk.OUTDATED
                self._notice(
                    out,
                    "alarm",
                    "Connected, but the peer's data is older than the "
                    "failed local disk's: no current data is reachable",
                )
        else:
            if direction in ("none", "source") and self.disk == Disk.CONSISTENT:
                self.disk = Disk.UP_TO_DATE
            elif direction == "target" and self.disk != Disk.INCONSISTENT:
                self.disk = Disk.OUTDATED
            self._notice(out, "conn", f"Connected to a Diskless peer, disk {self.disk.value}")
            self._persist(out)
        self.frozen = False
        self._release_held(out)

    def _wins_tie(self, h: m.Hello) -> bool:
        """Same generation but differing blocks (a Primary crashed): the Primary, else the
        one that was Primary, else node1, sends its version."""
        if (self.role == Role.PRIMARY) != h.primary:
            return self.role == Role.PRIMARY
        if self.was_primary != h.was_primary:
            return self.was_primary
        return self.cfg.node < h.node

    def _release_held(self, out: list[Action]) -> None:
        """Writes held while the peer was away: their blocks were marked, and the resync
        that starts now (or the bitmap, when writing on alone) carries them."""
        held = [r for r in self.requests.values() if r.held]
        for r in held:
            r.held = False
            r.peer = True
            self._maybe_complete(r, out)

    def _standalone(self, out: list[Action], reason: str) -> None:
        self.conn = Conn.STANDALONE
        self.standalone_reason = reason
        self._notice(out, "standalone", f"StandAlone: {reason}", reason=reason)
        out.append(DropLink(reason))

    def _peer_state(self, msg: m.State, out: list[Action]) -> None:
        self.peer_primary = msg.primary
        disk = Disk(msg.disk)
        if disk == Disk.DISKLESS and self.peer_disk != Disk.DISKLESS and self.role == Role.PRIMARY:
            self.peer_disk = disk
            self._notice(out, "peer-disk", "the peer's disk failed; writing on alone")
            self._go_alone(out)
            return
        if (
            disk == Disk.DISKLESS
            and self.peer_disk != Disk.DISKLESS
            and msg.primary
            and self.disk == Disk.UP_TO_DATE
            and self.conn == Conn.CONNECTED
        ):
            # The Primary lost its disk and writes through us: from now on our data is the
            # only current copy, newer than the failed disk. A new generation says so, and
            # no write is acknowledged before it is on disk.
            self.peer_disk = disk
            self.gens = self.gens.started_alone(self.new_id())
            self.disk = Disk.UP_TO_DATE
            self.acks_held = True
            self._notice(
                out,
                "peer-disk",
                "the Primary's disk failed; this replica holds the only current data",
            )
            self._persist(out, self._release_acks)
            return
        self.peer_disk = disk
