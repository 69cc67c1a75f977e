"""The persistent event log (CM-5, NT-1): durable, ordered, ids unique across restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.eventlog import log


def test_records_survive_and_keep_order(tmp_path: Path) -> None:
    f = tmp_path / "events.jsonl"
    a = log.record("node1", "failover", "node1 took over", path=f)
    b = log.record(
        "node1",
        "switchover",
        "switched over to node2",
        severity="warning",
        details={"reason": "operator"},
        steps=[log.Step("stop", 1.25), log.Step("start", 0.5, detail="4 members")],
        path=f,
    )
    events = log.read(f)
    assert [e.id for e in events] == [a.id, b.id] == ["node1-00000001", "node1-00000002"]
    assert events[1].details == {"reason": "operator"}
    assert events[1].steps[1] == log.Step("start", 0.5, True, "4 members")
    assert events[1].total_seconds == 1.75
    assert [e.id for e in log.read(f, since=a.id)] == [b.id]
    assert [e.id for e in log.read(f, limit=1)] == [b.id]


def test_torn_last_line_is_skipped_and_ids_continue(tmp_path: Path) -> None:
    f = tmp_path / "events.jsonl"
    log.record("node2", "volume", "disconnected", path=f)
    with open(f, "a") as out:
        out.write('{"id": "node2-0000')  # a crash in the middle of a line
    assert len(log.read(f)) == 1
    with open(f, "a") as out:
        out.write("\n")
    nxt = log.record("node2", "volume", "connected", path=f)
    assert nxt.id == "node2-00000002"
    assert [e.sentence for e in log.read(f)] == ["disconnected", "connected"]


def test_rotation_keeps_one_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "events.jsonl"
    monkeypatch.setattr(log, "MAX_BYTES", 300)
    for i in range(10):
        log.record("node1", "resource", f"step {i}", path=f)
    assert f.with_name("events.jsonl.1").exists()
    events = log.read(f)
    assert events[-1].sentence == "step 9"
    assert [e.id for e in events] == sorted(e.id for e in events)


def test_bad_severity_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="severity"):
        log.record("node1", "x", "y", severity="loud", path=tmp_path / "e.jsonl")
