"""The activity log: the areas a Primary may be writing right now, recorded on disk before
it writes there, so that after a crash exactly those areas are resynced (as DRBD's AL).

Extents are 64 MiB and 32 are kept: sequential writing costs one metadata update per
64 MiB, and the worst resync after a Primary's crash is 2 GiB.
"""

from __future__ import annotations

from collections import OrderedDict

EXTENT_BLOCKS = 16384  # 64 MiB of 4 KiB blocks
SLOTS = 32


class ActivityLog:
    def __init__(self, extents: list[int] | None = None, slots: int = SLOTS) -> None:
        self.slots = slots
        self.lru: OrderedDict[int, None] = OrderedDict((e, None) for e in extents or [])

    def extents(self) -> list[int]:
        return list(self.lru)

    def missing(self, blocks: range) -> list[int]:
        """Extents these blocks need that are not in the log yet."""
        first, last = blocks.start // EXTENT_BLOCKS, (blocks.stop - 1) // EXTENT_BLOCKS
        out = [e for e in range(first, last + 1) if e not in self.lru]
        for e in range(first, last + 1):
            if e in self.lru:
                self.lru.move_to_end(e)
        return out

    def add(self, extents: list[int], busy: set[int] | None = None) -> list[int]:
        """Add extents; returns those evicted to make room (oldest first). An extent with
        writes in flight is never evicted: the log may grow past its slots for a moment."""
        evicted = []
        for e in extents:
            self.lru[e] = None
            self.lru.move_to_end(e)
        for old in list(self.lru):
            if len(self.lru) <= self.slots:
                break
            if old not in (busy or set()) and old not in extents:
                del self.lru[old]
                evicted.append(old)
        return evicted
