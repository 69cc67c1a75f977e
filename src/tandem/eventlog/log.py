"""One JSON object per line in /var/lib/tandem/events.jsonl, on the node's own disk.

Why not on /vz: the events that matter most (a failover, a failed mount) happen while /vz
is not mounted here. Why JSON lines: appending one line is atomic enough under a lock,
survives a crash up to the last fsync'd line, and every reader (mail, web, `tandem
events`) parses it without a schema migration. Each event has an id that is unique in the
cluster (node and a counter that survives restarts), so mail can remember what it has
sent, and the web can merge both nodes' logs.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tandem import paths

LOG_FILE = paths.STATE_DIR / "events.jsonl"
MAX_BYTES = 4 << 20  # then the file is rotated to events.jsonl.1 (one old file is kept)
SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class Step:
    """One step of a transition and how long it took (CM-5: the duration of each step)."""

    name: str
    seconds: float
    ok: bool = True
    detail: str = ""


@dataclass(frozen=True)
class Event:
    id: str
    time: float  # wall clock, seconds since the epoch
    node: str
    kind: str  # failover, switchover, resource, path, volume, container, hardware, ...
    severity: str
    sentence: str
    details: dict[str, Any] = field(default_factory=dict)
    steps: tuple[Step, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["steps"] = [asdict(s) for s in self.steps]
        return data

    @staticmethod
    def from_json(data: dict[str, Any]) -> Event:
        steps = tuple(Step(**s) for s in data.get("steps", ()))
        return Event(
            id=str(data["id"]),
            time=float(data["time"]),
            node=str(data["node"]),
            kind=str(data["kind"]),
            severity=str(data.get("severity", "info")),
            sentence=str(data["sentence"]),
            details=dict(data.get("details", {})),
            steps=steps,
        )

    @property
    def total_seconds(self) -> float:
        return round(sum(s.seconds for s in self.steps), 3)


def record(
    node: str,
    kind: str,
    sentence: str,
    *,
    severity: str = "info",
    details: dict[str, Any] | None = None,
    steps: list[Step] | tuple[Step, ...] = (),
    path: Path | None = None,
) -> Event:
    """Append one event durably (fsync) and return it."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
    target = path or LOG_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        seq = _next_seq(target)
        event = Event(
            id=f"{node}-{seq:08d}",
            time=round(time.time(), 3),
            node=node,
            kind=kind,
            severity=severity,
            sentence=sentence,
            details=dict(details or {}),
            steps=tuple(steps),
        )
        if f.tell() >= MAX_BYTES:
            f.flush()
            target.replace(target.with_name(target.name + ".1"))
            with target.open("a", encoding="utf-8") as fresh:
                _append(fresh, event)
        else:
            _append(f, event)
        _save_seq(target, seq)
    return event


def _append(f: Any, event: Event) -> None:
    f.write(json.dumps(event.to_json(), separators=(",", ":")) + "\n")
    f.flush()
    os.fsync(f.fileno())


def _seq_file(target: Path) -> Path:
    return target.with_name(target.name + ".seq")


def _next_seq(target: Path) -> int:
    try:
        return int(_seq_file(target).read_text().strip() or 0) + 1
    except (FileNotFoundError, ValueError):
        return 1


def _save_seq(target: Path, seq: int) -> None:
    tmp = _seq_file(target).with_suffix(".tmp")
    tmp.write_text(f"{seq}\n")
    tmp.replace(_seq_file(target))


def read(
    path: Path | None = None, *, since: str | None = None, limit: int | None = None
) -> list[Event]:
    """Events oldest first, from the rotated file and the current one; `since` an id: only
    the events after it. A torn last line (a crash mid-write) is skipped."""
    target = path or LOG_FILE
    events = list(_iter(target.with_name(target.name + ".1"))) + list(_iter(target))
    if since is not None:
        ids = [e.id for e in events]
        if since in ids:
            events = events[ids.index(since) + 1 :]
    if limit is not None:
        events = events[-limit:] if limit > 0 else []
    return events


def _iter(path: Path) -> Iterator[Event]:
    try:
        with path.open(encoding="utf-8") as f:
            for line in f:
                try:
                    yield Event.from_json(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    continue
    except FileNotFoundError:
        return
