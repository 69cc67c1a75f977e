"""The mail queue on disk, /var/lib/tandem/mail/ (NT-1).

    pending/<event id>.json   one file per mail not yet accepted by an SMTP server, written
                              atomically, removed only after a server accepted the mail
    cursor.json               the last event of the log that was turned into a mail (or
                              decided not to be), so that no event is looked at twice
    status.json               last mail sent, last error, counters (for `tandem notify status`)

The order of writes is what makes the guarantees: a mail file is durable before the cursor
moves past its event (a crash in between writes the same file again, under the same name:
no second mail), and the file goes only after the server's "accepted". The one window left
is a crash between that "accepted" and the removal; the mail then goes out again with the
same Message-ID, which mail systems use to drop the copy.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tandem.fsutil import atomic_write

MODE = 0o600


@dataclass
class Pending:
    event_id: str
    created: float
    recipients: list[str]
    message: str  # the whole RFC 5322 message
    subject: str = ""
    attempts: int = 0
    next_try: float = 0.0
    last_error: str = ""


class MailQueue:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.pending_dir = directory / "pending"
        self.cursor_file = directory / "cursor.json"
        self.status_file = directory / "status.json"

    def _file(self, event_id: str) -> Path:
        return self.pending_dir / f"{event_id}.json"

    def put(self, mail: Pending) -> None:
        self.pending_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(self._file(mail.event_id), json.dumps(asdict(mail)) + "\n", MODE)

    def pending(self) -> list[Pending]:
        """Every queued mail, oldest first; a damaged file is set aside, not a crash."""
        mails = []
        for path in sorted(self.pending_dir.glob("*.json")):
            try:
                mails.append(Pending(**json.loads(path.read_text())))
            except (ValueError, TypeError, OSError):
                path.replace(path.with_suffix(".damaged"))
        return sorted(mails, key=lambda m: (m.created, m.event_id))

    def done(self, event_id: str) -> None:
        self._file(event_id).unlink(missing_ok=True)
        fd = os.open(self.pending_dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def __len__(self) -> int:
        return len(list(self.pending_dir.glob("*.json"))) if self.pending_dir.exists() else 0

    def cursor(self) -> dict[str, Any] | None:
        return _read_json(self.cursor_file)

    def set_cursor(self, event_id: str, time: float) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(self.cursor_file, json.dumps({"id": event_id, "time": time}) + "\n", MODE)

    def status(self) -> dict[str, Any]:
        return _read_json(self.status_file) or {}

    def save_status(self, status: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(self.status_file, json.dumps(status, indent=1) + "\n", MODE)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None
