"""NT-1 from the command line: the real `tandem notify run` daemon, restarted, does not
send a mail again; `tandem notify test` and `status`; `tandem events`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from tandem.eventlog.log import Step, record
from tandem.rootdir import Root
from tests.conftest import TANDEM, tandem
from tests.notify.conftest import SmtpServer


def start_notifier(root: Root) -> subprocess.Popen[str]:
    argv = [TANDEM, "notify", "run", "--root", str(root.base)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> str:
    os.kill(proc.pid, sig)
    out, _ = proc.communicate(timeout=10)
    return out


def wait_for_last_sent(root: Root, event_id: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        info = json.loads(tandem("notify", "status", "--root", str(root.base), "--json").stdout)
        if (info.get("last_sent") or {}).get("event_id") == event_id:
            return
        assert time.monotonic() < deadline, f"the notifier never recorded {event_id}: {info}"
        time.sleep(0.05)


def test_a_restarted_notifier_does_not_send_again(root: Root, smtp: SmtpServer) -> None:
    events = root.state / "events.jsonl"
    proc = start_notifier(root)
    try:
        record("node1", "switchover", "switchover to node2 done", path=events)
        assert len(smtp.inbox.wait(1)) == 1
        # The relay holds the mail a moment before the notifier hears its "250" and
        # records it; a kill in that window sends it again, with the same Message-ID
        # (at-least-once, docs/notifications.md). The kill comes after the record.
        wait_for_last_sent(root, "node1-00000001")
    finally:
        log = stop(proc, signal.SIGKILL)  # killed hard: no chance to tidy up
    proc = start_notifier(root)
    try:
        time.sleep(3)
        assert len(smtp.inbox.mails) == 1, "the restarted notifier sent the mail again"
        record("node1", "switchover", "switchover to node1 done", path=events)
        assert len(smtp.inbox.wait(2)) == 2
        time.sleep(2)
    finally:
        log = stop(proc)
    subjects = [m.message["Subject"] for m in smtp.inbox.mails]
    assert subjects == ["[tandem alpha] node1: switchover to node2 done",
                        "[tandem alpha] switchover to node1 done"]  # fmt: skip
    assert "accepted by relay 127.0.0.1" in log


def test_notify_test_and_status(root: Root, smtp: SmtpServer) -> None:
    result = tandem("notify", "test", "--root", str(root.base))
    assert result.returncode == 0, result.stderr
    assert f"accepted by relay 127.0.0.1:{smtp.port} (no TLS) for ops@example.com" in result.stdout
    assert smtp.inbox.wait(1)[0].message["Subject"].startswith("[tandem alpha] test mail from")
    smtp.stop()
    result = tandem("notify", "test", "--root", str(root.base))
    assert result.returncode == 1
    assert "the test mail was not delivered: relay 127.0.0.1" in result.stderr

    record("node1", "volume", "volume disconnected", path=root.state / "events.jsonl")
    proc = start_notifier(root)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            info = json.loads(tandem("notify", "status", "--root", str(root.base), "--json").stdout)
            if info["queue"] == 1 and info["last_error"]:
                break
            time.sleep(0.2)
        assert info["queue"] == 1 and info["oldest"]["event_id"] == "node1-00000001"
        assert "relay 127.0.0.1" in info["last_error"]["error"]
        smtp.start()
        os.kill(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=10)
        proc = start_notifier(root)  # a fresh start tries at once
        assert len(smtp.inbox.wait(2)) == 2
        time.sleep(0.5)
    finally:
        stop(proc)
    text = tandem("notify", "status", "--root", str(root.base)).stdout
    assert "queue: 0 mail(s) waiting" in text and "volume disconnected via relay" in text


def test_events_lists_the_log_readably(tmp_path: object) -> None:
    root = Root(tmp_path)  # type: ignore[arg-type]
    events = root.state / "events.jsonl"
    record("node2", "failover", "node2 took over: node1 dead", severity="critical",
           details={"reason": "no heartbeat for 2.0 s"},
           steps=[Step("promote volume", 0.12), Step("start container 101", 1.5, ok=False,
                                                     detail="exit 1")], path=events)  # fmt: skip
    record("node2", "path", "heartbeat path serial up", path=events)
    out = tandem("events", "--root", str(root.base)).stdout
    lines = out.splitlines()
    assert "node2  failover  node2 took over: node1 dead" in lines[0]
    assert lines[1].strip() == "reason: no heartbeat for 2.0 s"
    assert "promote volume" in lines[2] and "0.120 s  ok" in lines[2]
    assert "1.500 s  FAILED exit 1" in lines[3]
    assert "total" in lines[4] and "1.620 s" in lines[4]
    assert "heartbeat path serial up" in lines[5]
    one = json.loads(tandem("events", "--root", str(root.base), "--json", "-n", "1").stdout)
    assert [e["sentence"] for e in one] == ["heartbeat path serial up"]
