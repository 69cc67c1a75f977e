"""The durable record of changes the peer has not received yet (DESIGN invariant 5).

When the other node is down, a change is applied here, kept in pending.json, and
delivered by sync.py when the peer answers again; the pages list what is pending. Only
what the peer needs is kept: a whole configuration file, a password hash, never a clear
text password. A newer entry of the same kind and target replaces an older one, because
each carries the whole new state, not a difference.

Notices are the other half of saying exactly what did not happen: a pending change that
the peer refused on delivery, or that lost against a newer one, becomes a notice that the
pages show until an operator dismisses it.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tandem.fsutil import atomic_write

MAX_NOTICES = 50


@dataclass(frozen=True)
class Entry:
    kind: str  # "config", "admin_password", "panel_password", "root_password"
    target: str  # the node that still has to apply it
    summary: str
    payload: dict[str, Any]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Notice:
    text: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: float = field(default_factory=time.time)


class Journal:
    def __init__(self, directory: Path) -> None:
        self.pending_file = directory / "pending.json"
        self.notices_file = directory / "notices.json"

    def entries(self) -> list[Entry]:
        return [Entry(**e) for e in _read(self.pending_file)]

    def add(self, entry: Entry) -> None:
        kept = [e for e in self.entries() if (e.kind, e.target) != (entry.kind, entry.target)]
        self._save_entries([*kept, entry])

    def remove(self, entry_id: str) -> None:
        self._save_entries([e for e in self.entries() if e.id != entry_id])

    def _save_entries(self, entries: list[Entry]) -> None:
        atomic_write(self.pending_file, json.dumps([asdict(e) for e in entries]), 0o600)

    def notices(self) -> list[Notice]:
        return [Notice(**n) for n in _read(self.notices_file)]

    def notice(self, text: str) -> None:
        notices = [*self.notices(), Notice(text)][-MAX_NOTICES:]
        atomic_write(self.notices_file, json.dumps([asdict(n) for n in notices]), 0o600)

    def dismiss(self, notice_id: str) -> bool:
        notices = self.notices()
        kept = [n for n in notices if n.id != notice_id]
        atomic_write(self.notices_file, json.dumps([asdict(n) for n in kept]), 0o600)
        return len(kept) != len(notices)


def _read(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    except ValueError:
        # A torn file cannot happen with atomic_write; a hand-edited one is kept aside.
        path.replace(path.with_suffix(".damaged"))
        return []
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []
