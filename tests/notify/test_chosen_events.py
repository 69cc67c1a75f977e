"""MG-2 Notification "which events" (NT-1): only the chosen kinds are mailed, through a
real SMTP server (aiosmtpd); the others stay in the event log and never enter the queue,
not even when the choice changes later."""

from __future__ import annotations

import asyncio

from tandem.eventlog.log import read, record
from tandem.notify.notifier import Notifier
from tandem.notify.queue import MailQueue
from tandem.notify.scope import cluster_details
from tandem.rootdir import Root
from tests.notify.conftest import SmtpServer, write_config


def cycle(notifier: Notifier) -> int:
    notifier.collect()
    return asyncio.run(notifier.flush())


def events_of_three_kinds(root: Root) -> None:
    log = root.state / "events.jsonl"
    record("node1", "updates", "updates installed on node1: 3 packages, exit code 0",
           details={"where": "node1", "packages": 3, "exit_code": 0}, path=log)  # fmt: skip
    record("node1", "container", "container 101 stopped by a fault", path=log)
    record("node1", "hardware", "RAID md0 is active raid1 degraded [2/1] (was healthy)",
           severity="critical", details={"item": "raid md0"}, path=log)  # fmt: skip


def test_a_chosen_kind_arrives_and_an_unchosen_one_does_not(root: Root, smtp: SmtpServer) -> None:
    write_config(root, smtp.port, extra='events = ["updates", "disks"]')
    events_of_three_kinds(root)
    assert cycle(Notifier(root)) == 2
    subjects = sorted(m.message["Subject"] for m in smtp.inbox.wait(2))
    assert subjects == [
        "[tandem alpha] CRITICAL: node1: RAID md0 is active raid1 degraded [2/1] (was healthy)",
        "[tandem alpha] updates installed on node1: 3 packages, exit code 0",
    ]
    mail = next(m for m in smtp.inbox.mails if "updates" in m.message["Subject"])
    body = mail.message.get_content().replace("\r\n", "\n")
    assert 'Mailed because "Updates" is chosen on the Notification page' in body
    queue = MailQueue(root.state / "mail")
    assert len(queue) == 0
    assert queue.status()["counts"]["not_chosen"] == 1
    # The event log keeps the container's event; the queue never had it.
    assert [e.kind for e in read(root.state / "events.jsonl")] == ["updates", "container",
                                                                   "hardware"]  # fmt: skip
    assert queue.cursor() is not None and queue.cursor()["id"] == "node1-00000003"  # type: ignore[index]


def test_nothing_chosen_mails_nothing_and_a_later_choice_mails_no_old_event(
    root: Root, smtp: SmtpServer
) -> None:
    write_config(root, smtp.port, extra="events = []")
    events_of_three_kinds(root)
    assert cycle(Notifier(root)) == 0
    assert len(MailQueue(root.state / "mail")) == 0
    write_config(root, smtp.port, extra='events = ["containers"]')
    assert cycle(Notifier(root)) == 0, "the events passed over stay passed over"
    record("node1", "container", "container 102 stopped by a fault",
           path=root.state / "events.jsonl")  # fmt: skip
    assert cycle(Notifier(root)) == 1
    [mail] = smtp.inbox.wait(1)
    assert mail.message["Subject"] == "[tandem alpha] node1: container 102 stopped by a fault"


def test_an_unchosen_cluster_wide_event_does_not_make_node2_wait(
    root: Root, smtp: SmtpServer
) -> None:
    """node2 asks whether node1 is alive only for events it may have to mail."""
    write_config(root, smtp.port, me="node2", extra='events = ["failover"]')
    asked: list[bool] = []

    def peer_alive() -> bool | None:
        asked.append(True)
        return None

    notifier = Notifier(root, peer_alive=peer_alive)
    record("node2", "path", "heartbeat path crossover down",
           details=cluster_details("path", "crossover-down"),
           path=root.state / "events.jsonl")  # fmt: skip
    assert cycle(notifier) == 0
    assert notifier.waiting is None and not asked
    assert MailQueue(root.state / "mail").status()["counts"]["not_chosen"] == 1


def test_the_choice_and_both_nodes_mail_a_cluster_wide_event_once(
    root: Root, smtp: SmtpServer
) -> None:
    """With "paths" chosen, the rule against mails from both nodes still holds."""
    node2 = Root(root.base.parent / "node2")
    write_config(root, smtp.port, extra='events = ["paths"]')
    write_config(node2, smtp.port, me="node2", extra='events = ["paths"]')
    for r, node in ((root, "node1"), (node2, "node2")):
        record(node, "path", "heartbeat path crossover down",
               details=cluster_details("path", "crossover-down"),
               path=r.state / "events.jsonl")  # fmt: skip
    assert cycle(Notifier(root, peer_alive=lambda: True)) == 1
    assert cycle(Notifier(node2, peer_alive=lambda: True)) == 0
    assert len(smtp.inbox.wait(1)) == 1
    assert MailQueue(node2.state / "mail").status()["counts"]["left_to_other_node"] == 1
