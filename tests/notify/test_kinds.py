"""MG-2 Notification "which events", NT-1: the operator's kinds of events, how the event
log's own kinds fall into them, and the configuration key that chooses them."""

from __future__ import annotations

from typing import Any

import pytest

from tandem.config import InvalidConfig, parse_config
from tandem.config.model import EVENT_KINDS
from tandem.eventlog.log import Event
from tandem.notify.compose import KIND_LABELS, translations
from tandem.notify.kinds import BY_LOG_KIND, chosen, kind_of

BASE = """
[node1]
hostname = "alpha"
crossover = "192.168.255.1"
external = "10.0.0.11"
[node2]
hostname = "beta"
crossover = "192.168.255.2"
external = "10.0.0.12"
"""


def event(kind: str, **details: Any) -> Event:
    return Event("node1-00000001", 0.0, "node1", kind, "info", "something happened", details)


@pytest.mark.parametrize(
    ("log_kind", "details", "expected"),
    [
        ("failover", {}, "failover"),
        ("switchover", {}, "failover"),
        ("self-fence", {}, "failover"),
        ("fence", {}, "failover"),
        ("start", {}, "failover"),
        ("updates", {"packages": 3}, "updates"),
        ("path", {"scope": "cluster"}, "paths"),
        ("volume", {}, "replication"),
        ("container", {"veid": 101}, "containers"),
        ("resource", {}, "containers"),
        ("hardware", {"item": "ipmi FAN1"}, "hardware"),
        ("hardware", {"item": "sensors temp1"}, "hardware"),
        ("hardware", {"item": "tool ipmi"}, "hardware"),
        ("hardware", {"item": "raid md0"}, "disks"),
        ("hardware", {"item": "disk /dev/sda"}, "disks"),
        ("hardware", {"item": "tool disks"}, "disks"),
        ("hardware", {"item": "tool raid"}, "disks"),
        ("support", {}, "other"),
        ("something-new", {}, "other"),
    ],
)
def test_each_log_kind_falls_into_one_of_the_operators_kinds(
    log_kind: str, details: dict[str, Any], expected: str
) -> None:
    assert kind_of(event(log_kind, **details)) == expected


def test_every_kind_has_a_mail_label_in_both_languages() -> None:
    assert set(BY_LOG_KIND.values()) <= set(EVENT_KINDS)
    assert set(KIND_LABELS) == set(EVENT_KINDS)
    german = translations("de").gettext
    untranslated = [label for label in KIND_LABELS.values()
                    if label not in ("Updates", "Hardware") and german(label) == label]  # fmt: skip
    assert not untranslated


def test_only_chosen_kinds_pass() -> None:
    disk = event("hardware", item="raid md0")
    assert chosen(disk, ["disks"]) and not chosen(disk, ["hardware"])
    assert not chosen(event("failover"), [])
    assert chosen(event("support"), list(EVENT_KINDS))


def test_by_default_every_kind_is_mailed() -> None:
    assert parse_config(BASE).notification.events == list(EVENT_KINDS)


def test_the_choice_is_read_from_the_configuration() -> None:
    cfg = parse_config(BASE + '[notification]\nevents = ["failover", "disks"]\n')
    assert cfg.notification.events == ["failover", "disks"]
    assert parse_config(BASE + "[notification]\nevents = []\n").notification.events == []


def test_an_unknown_kind_is_named_with_the_allowed_ones() -> None:
    with pytest.raises(InvalidConfig) as caught:
        parse_config(BASE + '[notification]\nevents = ["failover", "mails"]\n')
    [issue] = caught.value.issues
    assert issue.key == "notification.events[1]" and issue.value == "mails"
    assert issue.problem == (
        'unknown kind of event "mails"; the kinds are failover, updates, paths, replication, '
        "containers, hardware, disks, other"
    )
    assert issue.expected.startswith("which events are mailed (NT-1)")


def test_a_kind_named_twice_is_refused() -> None:
    with pytest.raises(InvalidConfig) as caught:
        parse_config(BASE + '[notification]\nevents = ["updates", "paths", "updates"]\n')
    [issue] = caught.value.issues
    assert issue.key == "notification.events"
    assert issue.problem == "updates listed more than once; name each kind once"
