"""Roles and the operator's actions: promote, demote (DR-3), resolve a split brain,
invalidate, initialize a new data set (DR-4, DR-5; seed 7.2 and 7.3)."""

from __future__ import annotations

from tandem.replication.events import (
    Action,
    DropLink,
    Promote,
)
from tandem.replication.generations import Generations
from tandem.replication.state import ReplicaState
from tandem.replication.states import Conn, Disk, Role


class RolesPath(ReplicaState):
    def _promote(self, ev: Promote, out: list[Action]) -> None:
        if self.role == Role.PRIMARY:
            return
        if self.linked and self.peer_primary:
            self._notice(out, "refused", "not promoted: the peer is Primary")
            return
        if not self.has_disk and not (self.linked and self.peer_disk == Disk.UP_TO_DATE):
            self._notice(out, "refused", "not promoted: no local disk and no peer with data")
            return
        ok = self.disk == Disk.UP_TO_DATE or (self.disk == Disk.CONSISTENT and ev.peer_confirmed)
        if self.conn == Conn.SYNC_TARGET:
            ok = False
        if not ok and not ev.force:
            self._notice(
                out,
                "refused",
                f"not promoted: the local data is {self.disk.value}; "
                "promote with force only if you know the peer has nothing newer",
            )
            return
        alone = not self.linked or self.peer_disk in (None, Disk.DISKLESS)
        if alone and self.has_disk:
            self.gens = self.gens.started_alone(self.new_id())
            self.disk = Disk.UP_TO_DATE
        self.role = Role.PRIMARY
        self.was_primary = True
        forced = " (forced)" if ev.force and not ok else ""
        self._notice(out, "role", f"Primary{forced}, generation {self.gens.current:x}")
        self._persist(out)
        self._state_msg(out)

    def _demote(self, out: list[Action]) -> None:
        if self.role != Role.PRIMARY:
            return
        for r in list(self.requests.values()):
            self._finish(r, out, error="EIO: the replica was demoted")
        self.peer_pending.clear()
        self.peer_sent_at.clear()
        self.frozen = False
        self.role = Role.SECONDARY
        self.was_primary = False
        self._notice(out, "role", "Secondary")
        self._persist(out)
        self._state_msg(out)

    def _resolve(self, discard_mine: bool, out: list[Action]) -> None:
        if self.conn != Conn.STANDALONE:
            self._notice(out, "refused", "nothing to resolve: the replica is not StandAlone")
            return
        if discard_mine:
            if self.role == Role.PRIMARY:
                self._notice(out, "refused", "demote this replica before discarding its data")
                return
            # Our changes go: a replica with no data generation takes a full sync.
            self.gens = Generations(0, 0, ())
            self.disk = Disk.OUTDATED
            self.bitmap.set_all()
        self._notice(
            out,
            "resolve",
            "split brain resolved by the operator: "
            f"{'this' if discard_mine else 'the peer'} replica's changes are discarded",
        )
        self._persist(out)
        self._connect(out)

    def _initialize(self, out: list[Action]) -> None:
        # Connected is fine only to a peer that has no data either (two new replicas).
        idle = (
            self.conn == Conn.CONNECTED
            and self.disk == Disk.INCONSISTENT
            and self.peer_disk == Disk.INCONSISTENT
            and not self.peer_primary
        )
        if self.role == Role.PRIMARY or (self.linked and not idle) or not self.has_disk:
            self._notice(
                out,
                "refused",
                "initialize a replica only while it is Secondary, with a working disk, and "
                "not connected to a peer that has data (disconnect or invalidate it first)",
            )
            return
        self.gens = Generations(self.new_id(), 0, ())
        self.disk = Disk.UP_TO_DATE
        self.bitmap.clear_all()
        self._notice(
            out,
            "initialize",
            f"new data set, generation {self.gens.current:x}: the "
            "peer will take a full sync from this replica",
        )
        self._persist(out)
        if idle:
            self.bitmap.set_all()
            self._become_sync_source(out, full=True)
        else:
            self._connect(out)

    def _invalidate(self, out: list[Action]) -> None:
        if self.role == Role.PRIMARY:
            self._notice(out, "refused", "a Primary cannot throw its data away; demote it first")
            return
        self.gens = Generations(0, 0, ())
        self.disk = Disk.INCONSISTENT
        self.bitmap.set_all()
        self._notice(out, "invalidate", "local data invalidated: a full sync from the peer follows")
        self._persist(out)
        if self.linked:
            out.append(DropLink("invalidated: reconnecting for a full sync"))
            self._link_down("invalidated", out)
