"""Sizes as vzctl users write them: 256M, 2G, 512MiB; "unlimited"; and percentages.

Units are binary (M = MiB), as in vzctl and in the sample names themselves (vps.256MB is
256 MiB); a number without unit is bytes.
"""

from __future__ import annotations

import re

from tandem.containers.errors import InvalidRequest

UNLIMITED = "unlimited"
_FACTORS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE = re.compile(r"^(\d+)\s*([KMGT]?)(I?B)?$", re.IGNORECASE)


def parse_size(text: str, what: str) -> int:
    match = _SIZE.match(text.strip())
    if match is None or (match.group(3) and not match.group(2)):
        raise InvalidRequest(
            f"{what} {text!r} is not a size; write a number with K, M, G or T, like 256M or 2G"
        )
    return int(match.group(1)) * _FACTORS[match.group(2).upper()]


def format_size(value: int) -> str:
    """The shortest exact spelling (2G, 256M, 1536K), so a saved value reads back unchanged."""
    for unit in ("T", "G", "M", "K"):
        factor = _FACTORS[unit]
        if value >= factor and value % factor == 0:
            return f"{value // factor}{unit}"
    return str(value)


def human(value: float) -> str:
    """A rounded size for people: 1.5 GiB, 256 MiB, 12 KiB."""
    for unit, factor in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if value >= factor:
            number = value / factor
            return f"{number:.1f} {unit}".replace(".0 ", " ")
    return f"{int(value)} B"


def parse_count(text: str, what: str, minimum: int = 1, maximum: int = 2**62) -> int:
    value = text.strip()
    if not value.isascii() or not value.isdigit():
        raise InvalidRequest(f"{what} {text!r} is not a number; give a whole number")
    number = int(value)
    if not minimum <= number <= maximum:
        raise InvalidRequest(f"{what} {number} is out of range; give {minimum} to {maximum}")
    return number
