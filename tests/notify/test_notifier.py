"""NT-1: events become mails through the queue on disk; each arrives once; with the SMTP
server down it is queued and arrives when the server is back; STARTTLS and AUTH to the
relay; German and English. A real aiosmtpd server on 127.0.0.1 receives them."""

from __future__ import annotations

import asyncio
import json

import pytest

from tandem.eventlog.log import Step, record
from tandem.notify.notifier import Notifier
from tandem.notify.queue import MailQueue
from tandem.notify.scope import cluster_details
from tandem.rootdir import Root
from tests.notify.conftest import (
    HOST,
    PASSWORD,
    USER,
    SmtpServer,
    tls_server_context,
    write_config,
)


class Clock:
    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def cycle(notifier: Notifier) -> int:
    notifier.collect()
    return asyncio.run(notifier.flush())


def failover(root: Root, node: str = "node2") -> None:
    record(
        node, "failover", "node2 took over: node1 dead (no heartbeat on any path for 2.0 s)",
        severity="critical",
        details={"reason": "node1 dead: no heartbeat on any path for 2.0 s"},
        steps=[Step("fence node1", 0.412), Step("promote volume", 0.12),
               Step("mount /vz", 0.3), Step("start container 101", 1.5)],
        path=root.state / "events.jsonl",
    )  # fmt: skip


def test_an_event_arrives_once_with_reason_and_step_timings(root: Root, smtp: SmtpServer) -> None:
    write_config(root, smtp.port, me="node2")
    notifier = Notifier(root)
    failover(root)
    assert cycle(notifier) == 1
    assert cycle(notifier) == 0 and cycle(Notifier(root)) == 0
    [mail] = smtp.inbox.wait(1)
    assert len(smtp.inbox.mails) == 1
    msg = mail.message
    assert msg["Subject"] == (
        "[tandem alpha] CRITICAL: node2 took over: node1 dead (no heartbeat on any path for 2.0 s)"
    )
    assert mail.to == ["ops@example.com"] and mail.envelope_from == "tandem@alpha.example.com"
    assert msg["Message-ID"] == "<node2-00000001.alpha@tandem.invalid>"
    body = msg.get_content().replace("\r\n", "\n")
    assert "Reason: node1 dead: no heartbeat on any path for 2.0 s" in body
    assert "Steps (total 2.332 s):" in body
    assert "  fence node1             0.412 s  ok" in body
    assert f"node2 (host {HOST})" in body
    assert len(MailQueue(root.state / "mail")) == 0


def test_with_the_server_down_the_mail_waits_and_arrives_when_it_is_back(
    root: Root, smtp: SmtpServer
) -> None:
    clock = Clock()
    notifier = Notifier(root, clock=clock)
    smtp.stop()
    failover(root, "node1")
    assert cycle(notifier) == 0
    queue = MailQueue(root.state / "mail")
    assert len(queue) == 1
    [pending] = queue.pending()
    assert pending.attempts == 1 and "relay 127.0.0.1" in pending.last_error
    status = queue.status()
    assert status["last_error"]["event_id"] == "node1-00000001"
    clock.now += 11
    assert cycle(notifier) == 0 and queue.pending()[0].attempts == 2  # still down
    smtp.start()
    clock.now += 5
    assert cycle(notifier) == 0, "not due yet: the second try waits 20 s"
    clock.now += 16
    assert cycle(notifier) == 1
    assert len(smtp.inbox.wait(1)) == 1 and len(queue) == 0
    assert queue.status()["counts"]["sent"] == 1


def test_mails_queued_while_down_arrive_in_order_once_back(root: Root, smtp: SmtpServer) -> None:
    clock = Clock()
    notifier = Notifier(root, clock=clock, retry_first=1)
    smtp.stop()
    for i in range(5):
        record("node1", "container", f"container 10{i} stopped by a fault",
               path=root.state / "events.jsonl")  # fmt: skip
        clock.now += 0.01
        cycle(notifier)
    assert len(MailQueue(root.state / "mail")) == 5
    smtp.start()
    clock.now += 700
    assert cycle(notifier) == 5
    subjects = [m.message["Subject"] for m in smtp.inbox.wait(5)]
    assert subjects == [f"[tandem alpha] node1: container 10{i} stopped by a fault"
                        for i in range(5)]  # fmt: skip


def test_starttls_and_authentication_against_the_relay(root: Root) -> None:
    """A relay with its own (self-signed) certificate that requires STARTTLS and AUTH."""
    context, cert = tls_server_context(root.base)
    server = SmtpServer(tls=context)
    server.start()
    try:
        extra = f'relay_user = "{USER}"\nrelay_ca = "{cert}"'
        write_config(root, server.port, extra=extra)
        text = root.config.read_text().replace('relay_tls = "off"', 'relay_tls = "starttls"')
        root.config.write_text(text)
        root.secrets.mkdir(parents=True)
        (root.secrets / "smtp.password").write_text("wrong\n")
        notifier = Notifier(root)
        failover(root, "node1")
        assert cycle(notifier) == 0
        error = MailQueue(root.state / "mail").pending()[0].last_error
        assert "535" in error and "STARTTLS, AUTH as tandem" in error
        (root.secrets / "smtp.password").write_text(PASSWORD + "\n")
        assert asyncio.run(Notifier(root, clock=lambda: 1e12).flush()) == 1
        [mail] = server.inbox.wait(1)
        assert mail.tls and mail.user == USER
    finally:
        server.stop()


def test_a_relay_certificate_that_is_not_trusted_is_refused(root: Root) -> None:
    context, _cert = tls_server_context(root.base)
    server = SmtpServer(tls=context)
    server.start()
    try:
        write_config(root, server.port, extra=f'relay_user = "{USER}"')
        root.config.write_text(root.config.read_text().replace('"off"', '"starttls"'))
        failover(root, "node1")
        assert cycle(Notifier(root)) == 0
        assert "CERTIFICATE_VERIFY_FAILED" in MailQueue(root.state / "mail").pending()[0].last_error
        assert server.inbox.mails == []
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", ["Time:", "Node:", "Event:", "Reason:", "Steps (total 2.332 s):", "  ok"]),
        ("de", ["Zeit:", "Knoten:", "Ereignis:", "Grund:", "Schritte (zusammen 2.332 s):",
                "(Rechner ", "kritisch"]),
    ],
)  # fmt: skip
def test_mails_in_german_and_english(
    root: Root, smtp: SmtpServer, lang: str, expected: list[str]
) -> None:
    write_config(root, smtp.port, lang=lang)
    failover(root, "node1")
    assert cycle(Notifier(root)) == 1
    [mail] = smtp.inbox.wait(1)
    body = mail.message.get_content().replace("\r\n", "\n")
    for text in expected:
        assert text in body, (text, body)
    if lang == "de":
        assert mail.message["Subject"].startswith("[tandem alpha] KRITISCH: node2 took over")
        assert "Time:" not in body


def path_down(root: Root, node: str, when: float) -> None:
    record(node, "path", "heartbeat path crossover down",
           details=cluster_details("path", "crossover-down", when),
           path=root.state / "events.jsonl")  # fmt: skip


def test_cluster_wide_events_are_mailed_by_node1_only(root: Root, smtp: SmtpServer) -> None:
    """NT-1 "never sent twice by both nodes": node2 leaves a path event to a live node1."""
    clock = Clock()
    node2_root = Root(root.base.parent / "node2")
    write_config(node2_root, smtp.port, me="node2")
    path_down(root, "node1", clock.now)
    path_down(node2_root, "node2", clock.now)
    assert cycle(Notifier(root, peer_alive=lambda: True, clock=clock)) == 1
    assert cycle(Notifier(node2_root, peer_alive=lambda: True, clock=clock)) == 0
    assert MailQueue(node2_root.state / "mail").status()["counts"]["left_to_other_node"] == 1
    # node1 dead: node2 mails the next one itself.
    path_down(node2_root, "node2", clock.now + 120)
    assert cycle(Notifier(node2_root, peer_alive=lambda: False, clock=clock)) == 1
    assert len(smtp.inbox.wait(2)) == 2


def test_node2_waits_while_it_cannot_tell_then_mails(root: Root, smtp: SmtpServer) -> None:
    clock = Clock()
    write_config(root, smtp.port, me="node2")
    notifier = Notifier(root, peer_alive=lambda: None, clock=clock)
    path_down(root, "node2", clock.now)
    assert cycle(notifier) == 0
    assert "cannot tell yet" in (notifier.waiting or "")
    clock.now += 61
    assert cycle(notifier) == 1 and notifier.waiting is None


def test_the_same_dedupe_key_is_mailed_once(root: Root, smtp: SmtpServer) -> None:
    clock = Clock()
    notifier = Notifier(root, clock=clock)
    path_down(root, "node1", 600.0)
    path_down(root, "node1", 601.0)  # the same minute, recorded twice
    assert cycle(notifier) == 1
    assert MailQueue(root.state / "mail").status()["counts"]["duplicate"] == 1


def test_without_addresses_events_are_passed_over(root: Root, smtp: SmtpServer) -> None:
    write_config(root, smtp.port, addresses=())
    failover(root, "node1")
    assert cycle(Notifier(root)) == 0
    queue = MailQueue(root.state / "mail")
    assert len(queue) == 0 and queue.cursor() is not None


def test_an_invalid_configuration_holds_events_back_until_fixed(
    root: Root, smtp: SmtpServer
) -> None:
    good = root.config.read_text()
    root.config.write_text("[cluster]\nname = 5\n")
    notifier = Notifier(root)
    failover(root, "node1")
    assert cycle(notifier) == 0
    assert "not usable" in (notifier.waiting or "")
    root.config.write_text(good)
    assert cycle(notifier) == 1


def test_a_crash_between_queue_and_cursor_does_not_send_twice(root: Root, smtp: SmtpServer) -> None:
    """The mail file is written, the cursor not yet: the next start writes the same file."""
    failover(root, "node1")
    notifier = Notifier(root)
    notifier.collect()
    queue = MailQueue(root.state / "mail")
    queue.cursor_file.unlink()  # as if the crash came before the cursor moved
    Notifier(root).collect()
    assert len(queue) == 1
    assert asyncio.run(Notifier(root).flush()) == 1
    assert len(smtp.inbox.wait(1)) == 1


def test_a_rotated_log_is_followed_by_time(root: Root, smtp: SmtpServer) -> None:
    log = root.state / "events.jsonl"
    failover(root, "node1")
    assert cycle(Notifier(root)) == 1
    lines = log.read_text().splitlines()
    event = json.loads(lines[0])
    event["id"], event["time"] = "node1-00000099", event["time"] + 1
    log.write_text(json.dumps(event) + "\n")  # the cursor's event is gone
    assert cycle(Notifier(root)) == 1
    assert cycle(Notifier(root)) == 0
    assert len(smtp.inbox.wait(2)) == 2
