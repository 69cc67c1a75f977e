"""Container IDs: numbers from 100 up, as in the seed (VE 101 is the first user container).

IDs below 100 stay reserved, as Virtuozzo reserved VE 0 and VE 1 for the node itself; the
upper bound is Virtuozzo's too, and keeps every name derived from an ID (the host-side
network interface `ve<ID>`, the cgroup `ve<ID>`) within the kernel's limits.
"""

from __future__ import annotations

from tandem.containers.errors import InvalidRequest

MIN_VEID = 100
MAX_VEID = 2_147_483_647
FIRST_USER_VEID = 101


def parse_veid(value: str | int) -> int:
    """The container ID in `value`, or InvalidRequest saying what a valid ID looks like."""
    text = str(value).strip()
    if not text.isascii() or not text.isdigit():
        raise InvalidRequest(
            f"container ID {text!r} is not a number; give a number from {MIN_VEID} up, "
            f"like {FIRST_USER_VEID}"
        )
    veid = int(text)
    if veid < MIN_VEID:
        raise InvalidRequest(
            f"container ID {veid} is below {MIN_VEID}; IDs below {MIN_VEID} are reserved, "
            f"use {MIN_VEID} or more ({FIRST_USER_VEID} is the first user container)"
        )
    if veid > MAX_VEID:
        raise InvalidRequest(f"container ID {veid} is too large; the largest is {MAX_VEID}")
    return veid
