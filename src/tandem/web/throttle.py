"""Throttling of failed logins, per client address.

bcrypt already makes each guess cost a quarter of a second; this makes a run of wrong
guesses from one address cost minutes: after FREE failures within WINDOW seconds, every
further attempt waits a delay that doubles with each failure, up to MAX_DELAY. A success
clears the address. Memory is bounded: old addresses are forgotten.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

FREE = 5
WINDOW = 900.0
MAX_DELAY = 900.0
MAX_ADDRESSES = 10_000


@dataclass
class _Failures:
    count: int
    last: float


class LoginThrottle:
    def __init__(
        self,
        free: int = FREE,
        window: float = WINDOW,
        max_delay: float = MAX_DELAY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = free
        self.window = window
        self.max_delay = max_delay
        self.clock = clock
        self._seen: OrderedDict[str, _Failures] = OrderedDict()

    def _entry(self, address: str) -> _Failures | None:
        entry = self._seen.get(address)
        if entry is not None and self.clock() - entry.last > self.window:
            del self._seen[address]
            return None
        return entry

    def retry_after(self, address: str) -> float:
        """Seconds this address must still wait before its next attempt (0: go ahead)."""
        entry = self._entry(address)
        if entry is None or entry.count < self.free:
            return 0.0
        delay = min(self.max_delay, 2.0 ** (entry.count - self.free))
        return max(0.0, entry.last + delay - self.clock())

    def failed(self, address: str) -> None:
        entry = self._entry(address) or _Failures(0, 0.0)
        entry.count += 1
        entry.last = self.clock()
        self._seen[address] = entry
        self._seen.move_to_end(address)
        while len(self._seen) > MAX_ADDRESSES:
            self._seen.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self._seen.pop(address, None)
