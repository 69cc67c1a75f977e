"""MG-2 Notification "which events" (NT-1): one checkbox per kind, saved through the same
form model and configuration change as the page's other fields, and refused with the field
named when a kind is unknown."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from tandem.config import parse_config
from tandem.config.model import EVENT_KINDS
from tandem.web.app import create_app
from tandem.web.settings import WebSettings
from tests.web.conftest import free_port, install, log_in_in_english

BOX = re.compile(r'<input type="checkbox" name="events" value="(\w+)"([^>]*)>')


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("notification")
    etc = install(root, free_port())["node1"]
    settings = WebSettings(etc_dir=etc, state_dir=root / "state", run_dir=root / "run",
                           node="node1", peer_timeout=0.2)  # fmt: skip
    with TestClient(create_app(settings, background=False), base_url="https://testserver") as c:
        log_in_in_english(c)
        yield c


def checked(page: str) -> list[str]:
    boxes = BOX.findall(page)
    assert [kind for kind, _ in boxes] == list(EVENT_KINDS), "one checkbox per kind, in order"
    return [kind for kind, rest in boxes if " checked" in rest]


def config_events(client: TestClient) -> list[str]:
    config = client.app.state.web.settings.config_file  # type: ignore[attr-defined]
    return parse_config(config.read_text()).notification.events


def test_every_kind_is_chosen_at_first(client: TestClient) -> None:
    assert client.get("/api/notification").json()["events"] == list(EVENT_KINDS)
    page = client.get("/notification").text
    assert checked(page) == list(EVENT_KINDS)
    assert "Disks and RAID" in page and "SMART health of the disks, software RAID" in page


def test_the_choice_is_saved_and_shown(client: TestClient) -> None:
    values = client.get("/api/notification").json()
    reply = client.put("/api/notification", json={**values, "events": ["failover", "disks"]})
    assert reply.status_code == 200, reply.text
    assert reply.json()["nodes"]["node1"]["state"] == "applied"
    assert reply.json()["nodes"]["node2"]["state"] == "pending"  # the same change as ever
    assert client.get("/api/notification").json()["events"] == ["failover", "disks"]
    assert config_events(client) == ["failover", "disks"]
    assert checked(client.get("/notification").text) == ["failover", "disks"]
    nothing = client.put("/api/notification", json={**values, "events": []})
    assert nothing.status_code == 200 and config_events(client) == []
    assert checked(client.get("/notification").text) == []


def test_a_client_that_leaves_the_choice_out_keeps_it(client: TestClient) -> None:
    values = client.get("/api/notification").json()
    reply = client.put("/api/notification", json={**values, "events": ["updates"]})
    assert reply.status_code == 200
    rest = {k: v for k, v in values.items() if k != "events"}
    assert client.put("/api/notification", json={**rest, "relay_port": 587}).status_code == 200
    assert client.get("/api/notification").json()["events"] == ["updates"]


def test_the_page_names_the_kinds_in_german(client: TestClient) -> None:
    assert client.put("/api/session/language", json={"language": "de"}).status_code == 200
    try:
        page = client.get("/notification").text
    finally:
        assert client.put("/api/session/language", json={"language": "en"}).status_code == 200
    for text in ("Diese Ereignisse werden per E-Mail gemeldet", "Failover und Switchover",
                 "Festplatten und RAID", "Netzteile, Lüfter, Temperaturen"):  # fmt: skip
        assert text in page


@pytest.mark.parametrize(
    ("events", "key", "words"),
    [
        (["failover", "mails"], "notification.events[1]", 'unknown kind of event "mails"; the '
         "kinds are failover, updates, paths, replication, containers, hardware, disks, other"),
        (["disks", "disks"], "notification.events", "disks listed more than once"),
        ("failover", "events", "list"),
    ],
)  # fmt: skip
def test_a_bad_choice_is_refused_beside_the_checkboxes(
    client: TestClient, events: Any, key: str, words: str
) -> None:
    config = client.app.state.web.settings.config_file  # type: ignore[attr-defined]
    before = config.read_text()
    values = client.get("/api/notification").json()
    reply = client.put("/api/notification", json={**values, "events": events})
    assert reply.status_code == 422, reply.text
    [error] = reply.json()["errors"]
    assert error["field"] == "events" and error["key"] == key
    assert words in error["message"]
    assert "Nothing was saved" in reply.json()["message"]
    assert config.read_text() == before
