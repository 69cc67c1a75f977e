"""The witness's decision, without I/O: one lease, held by at most one node at a time.

A node asks for the lease while it runs (or wants to run) the service group, and while it
cannot count on its peer's vote. The lease is the witness's vote (HB-6). Three rules keep
it safe and avoid needless failovers:
- exclusive: another node gets it only after the holder's lease ran out here, which is
  after the holder's own expiry (it counts from before it sent its request);
- restart grace: a witness that just started grants nothing for one lease period, so a
  lease granted by its previous life has expired everywhere;
- head start: a node that merely wants to know whether it is quorate gets the lease only
  if the other node has not asked for it to run the group within the last head start, so
  in a partition the vote stays with the side that runs the services.

It also keeps the one fact the volume needs from a third party (DRBD's fence-peer, done
by quorum): "node X's data is Outdated". Only the holder of the vote may record it about
its peer, before it writes on alone; every reply tells each node whether it is recorded
Outdated, so a cut-off node learns it before it could ever be granted. The record is kept
on disk by the daemon (`outdated` is loaded from and saved to it): a witness restarted
between the record and the holder's death must still refuse the stale node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class WitnessCore:
    lease: float
    now: float
    head_start: float
    holder: int = 0
    expiry: float = 0.0
    grace_until: float = field(init=False)
    seen: dict[int, tuple[int, int]] = field(default_factory=dict)
    last_want: dict[int, float] = field(default_factory=lambda: {1: -math.inf, 2: -math.inf})
    dropped: dict[str, int] = field(default_factory=dict)
    outdated: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.grace_until = self.now + self.lease

    def request(
        self, node: int, generation: int, seq: int, body: dict[str, Any], now: float
    ) -> dict[str, Any] | None:
        """Answer one authenticated request; None for a replay (counted, not answered)."""
        if node not in (1, 2):
            self._count("unknown-node")
            return None
        if (generation, seq) <= self.seen.get(node, (0, 0)):
            self._count("replay")
            return None
        self.seen[node] = (generation, seq)
        want = body.get("want") is True
        if want:
            self.last_want[node] = now
        if self.holder and now >= self.expiry:
            self.holder = 0
        if body.get("probe") is True:
            granted = False  # a node that only checks that the witness is there
        elif body.get("release") is True:
            if self.holder == node:
                self.holder = 0
            granted = False
        elif self.holder == node:
            self.expiry = now + self.lease
            granted = True
        elif self.holder == 0 and now >= self.grace_until:
            other = 3 - node
            yields = not want and now - self.last_want[other] < self.head_start
            granted = not yields
            if granted:
                self.holder, self.expiry = node, now + self.lease
        else:
            granted = False
        self._record(node, granted, body.get("outdate_peer"))
        return {
            "echo_gen": generation,
            "echo_req": seq,
            "granted": granted,
            "holder": self.holder,
            "lease": self.lease,
            "remaining": round(max(0.0, self.expiry - now), 3) if self.holder else 0.0,
            "self_outdated": node in self.outdated,
            "peer_outdated": (3 - node) in self.outdated,
        }

    def _record(self, node: int, granted: bool, outdate_peer: object) -> None:
        """The holder says its peer is Outdated (it writes alone) or current again (after a
        resync). Anyone else's word is ignored: a node without the vote may not run the
        volume, so it has nothing to say about its peer's data."""
        if not granted or not isinstance(outdate_peer, bool):
            return
        if outdate_peer:
            self.outdated.add(3 - node)
        else:
            self.outdated.discard(3 - node)

    def _count(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def status(self, now: float) -> dict[str, Any]:
        holder = self.holder if self.holder and now < self.expiry else 0
        return {
            "holder": f"node{holder}" if holder else None,
            "remaining": round(max(0.0, self.expiry - now), 3) if holder else 0.0,
            "grace": round(max(0.0, self.grace_until - now), 3),
            "dropped": dict(self.dropped),
            "outdated": [f"node{n}" for n in sorted(self.outdated)],
        }
