"""A virtual clock and an event queue: the simulator's only source of time and chance."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from typing import Any


class Scheduler:
    """Runs callbacks in time order; ties run in the order they were scheduled, so a seed
    determines the whole run."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)  # noqa: S311 - reproducible chance, not secrets
        self.now = 0.0
        self.steps = 0
        self._queue: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._count = 0

    def at(self, time: float, fn: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self._queue, (max(time, self.now), self._count, fn, args))
        self._count += 1

    def after(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        self.at(self.now + delay, fn, *args)

    def run(self, until: float, check: Callable[[], None] | None = None) -> None:
        """Run every event up to `until`, calling `check` after each one."""
        queue = self._queue
        while queue and queue[0][0] <= until:
            time, _, fn, args = heapq.heappop(queue)
            self.now = time
            fn(*args)
            self.steps += 1
            if check is not None:
                check()
        self.now = until
