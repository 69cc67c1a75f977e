"""Data generations (DR-5) and the decision two replicas make when they meet.

Like DRBD's UUIDs, each replica keeps:
- `current`: the generation of its data. A Primary that starts writing without its peer
  gets a new current generation; the old one becomes `bitmap`.
- `bitmap`: the generation its dirty bitmap is relative to (0 when the peers are in sync):
  the bitmap holds every block written since `bitmap` was current.
- `history`: the two generations before that, for telling "far behind" from "unrelated".

When the peers connect they compare these and decide who is newer (DESIGN invariant 4:
the newer generation is never overwritten with the older), whether the bitmap suffices or
a full sync is needed, and whether both wrote on their own since they last agreed (split
brain), which is never resolved by silently discarding a side that has changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["none", "source", "target", "split-brain", "unrelated"]


@dataclass(frozen=True)
class Generations:
    current: int
    bitmap: int = 0
    history: tuple[int, ...] = field(default_factory=tuple)

    def started_alone(self, new: int) -> Generations:
        """This replica writes without its peer from now on, as generation `new`. If a
        bitmap generation is already running (it wrote alone before), it stays: the bitmap
        keeps growing from the same base, so no change is ever forgotten."""
        if self.bitmap:
            return Generations(new, self.bitmap, self.history)
        return Generations(new, self.current, self.history)

    def synced_with(self, peer_current: int) -> Generations:
        """After a complete resync both replicas hold `peer_current` and no bitmap."""
        history = self.history
        if self.bitmap and self.bitmap != peer_current:
            history = (self.bitmap, *history)[:2]
        if self.current != peer_current:
            history = (self.current, *history)[:2]
        return Generations(peer_current, 0, history)


@dataclass(frozen=True)
class Decision:
    direction: Direction  # from this replica's point of view
    full: bool = False  # a full sync: the bitmap does not cover the difference
    reason: str = ""


def decide(mine: Generations, peer: Generations) -> Decision:  # noqa: PLR0911 - a ladder
    """Who syncs from whom when the two replicas meet (pure, symmetric)."""
    if mine.current == peer.current:
        return Decision("none", reason="both hold the same generation")
    if mine.current == 0:
        return Decision("target", full=True, reason="this replica holds no data yet")
    if peer.current == 0:
        return Decision("source", full=True, reason="the peer holds no data yet")
    if mine.bitmap and mine.bitmap == peer.current:
        return Decision("source", reason="the peer missed what this replica wrote alone")
    if peer.bitmap and peer.bitmap == mine.current:
        return Decision("target", reason="this replica missed what the peer wrote alone")
    if mine.bitmap and mine.bitmap == peer.bitmap:
        return Decision("split-brain", reason="both wrote alone since they last agreed")
    if peer.current in mine.history or (mine.bitmap and peer.current in (mine.bitmap,)):
        return Decision("source", full=True, reason="the peer is far behind")
    if mine.current in peer.history:
        return Decision("target", full=True, reason="this replica is far behind")
    if mine.bitmap and peer.bitmap and (mine.bitmap in peer.history or peer.bitmap in mine.history):
        return Decision("split-brain", reason="both wrote alone since they last agreed")
    return Decision("unrelated", reason="the two replicas share no generation")
