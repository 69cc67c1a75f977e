"""Progress of long operations (template builds, backups, restores), for the command
line's progress bar now and the web's later (MG-4): the operation calls a function with
events; it never prints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    phase: str  # a sentence: "copying files", "checking the archive"
    done: int | None = None  # bytes (or steps) done in this phase
    total: int | None = None  # bytes expected, when known


Report = Callable[[Event], None]


def quiet(event: Event) -> None:
    del event
