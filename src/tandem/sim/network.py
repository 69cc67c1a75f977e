"""A virtual network: each (sender, receiver, channel) has its own conditions, which a
fault schedule changes while the simulation runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tandem.sim.scheduler import Scheduler


@dataclass
class Conditions:
    cut: bool = False
    loss: float = 0.0
    delay: float = 0.0005
    jitter: float = 0.0  # extra uniform delay: reorders messages on the same channel
    duplicate: float = 0.0


class Network:
    def __init__(self, scheduler: Scheduler) -> None:
        self.sched = scheduler
        self.conditions: dict[tuple[Any, Any, str], Conditions] = {}
        self.sent = 0
        self.delivered = 0

    def link(self, src: Any, dst: Any, channel: str) -> Conditions:
        key = (src, dst, channel)
        if key not in self.conditions:
            self.conditions[key] = Conditions()
        return self.conditions[key]

    def send(
        self, src: Any, dst: Any, channel: str, deliver: Callable[..., None], *args: Any
    ) -> None:
        """Maybe deliver `args` to `deliver` later, as the link's conditions decide."""
        self.sent += 1
        c = self.link(src, dst, channel)
        rng = self.sched.rng
        if c.cut or (c.loss and rng.random() < c.loss):
            return
        delay = c.delay + (rng.random() * c.jitter if c.jitter else 0.0)
        self.sched.after(delay, self._arrive, deliver, args)
        if c.duplicate and rng.random() < c.duplicate:
            self.sched.after(
                delay + rng.random() * (c.jitter or c.delay), self._arrive, deliver, args
            )

    def _arrive(self, deliver: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.delivered += 1
        deliver(*args)

    def heal_all(self) -> None:
        for c in self.conditions.values():
            c.cut, c.loss, c.duplicate, c.jitter = False, 0.0, 0.0, 0.0
