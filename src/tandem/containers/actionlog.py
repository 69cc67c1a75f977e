"""The per-container action log (VE-7, the Power Panel's "VE Aktions-Log"): what was done
to a container and what it ran into (limit hits), one line per event, on /vz so that it
follows the container to the other node.

Format: `2026-11-25T11:37:19Z node1 start container started in 0.4 s` - time (UTC), the
node that acted, a kind (one word), a sentence. Plain text, so `tail -f` works.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

KINDS = frozenset(
    {
        "create", "set", "start", "stop", "restart", "exec", "backup", "restore", "limit",
        "repair", "reinstall", "service", "password", "error",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Entry:
    time: str
    node: str
    kind: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        return f"{self.time} {self.node} {self.kind} {self.message}"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def append(path: Path, node: str, kind: str, message: str) -> Entry:
    """Add one entry; O_APPEND keeps concurrent writers' lines whole."""
    assert kind in KINDS, kind
    entry = Entry(now(), node, kind, " ".join(message.split()))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (entry.line() + "\n").encode())
    finally:
        os.close(fd)
    return entry


def parse_line(line: str) -> Entry | None:
    parts = line.rstrip("\n").split(" ", 3)
    if len(parts) < 4:
        return None
    return Entry(*parts)


def read(path: Path, last: int | None = None) -> list[Entry]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    entries = [e for e in (parse_line(line) for line in lines) if e is not None]
    return entries[-last:] if last else entries
