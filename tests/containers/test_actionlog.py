"""The action log: one readable line per event, read back as entries."""

from __future__ import annotations

from pathlib import Path

from tandem.containers import actionlog


def test_append_and_read(tmp_path: Path) -> None:
    log = tmp_path / "actions.log"
    actionlog.append(log, "node1", "start", "started on node1\n(10.0.0.103) in 0.4 s")
    actionlog.append(log, "node2", "stop", "stopped in 2.0 s")
    entries = actionlog.read(log)
    assert [(e.node, e.kind, e.message) for e in entries] == [
        ("node1", "start", "started on node1 (10.0.0.103) in 0.4 s"),
        ("node2", "stop", "stopped in 2.0 s"),
    ]
    assert len(log.read_text().splitlines()) == 2  # a message never breaks a line
    assert actionlog.read(log, last=1)[0].kind == "stop"


def test_missing_log_is_empty(tmp_path: Path) -> None:
    assert actionlog.read(tmp_path / "nothing.log") == []
