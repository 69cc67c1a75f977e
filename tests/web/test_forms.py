"""Every form rejects bad input with the field named and saves nothing (MG-4, DESIGN
invariant 6); the checks are the configuration model's own (`validate_config`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from tandem.web.app import create_app
from tandem.web.settings import WebSettings
from tests.web.conftest import PASSWORD, free_port, install


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("forms")
    etc = install(root, free_port())["node1"]
    settings = WebSettings(etc_dir=etc, state_dir=root / "state", run_dir=root / "run",
                           node="node1", peer_timeout=0.2)  # fmt: skip
    app = create_app(settings, background=False)
    with TestClient(app, base_url="https://testserver") as c:
        token = c.get("/api/session").json()["csrf"]
        c.headers["X-CSRF-Token"] = token
        assert c.post("/api/login", json={"user": "admin", "password": PASSWORD}).status_code == 200
        c.headers["X-CSRF-Token"] = c.get("/api/session").json()["csrf"]
        assert c.put("/api/session/language", json={"language": "en"}).status_code == 200
        yield c


def fields_of(reply: Any) -> dict[str, str]:
    return {e["field"]: e["message"] for e in reply.json()["errors"]}


def network(client: TestClient, **changes: Any) -> Any:
    values = client.get("/api/network").json()
    return client.put("/api/network", json={**values, **changes})


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("node1_external", "10.0.0.300", "not a valid IPv4 address"),
        ("gateway", "not-an-ip", "IPv4"),
        ("netmask", "255.0.255.0", "not a netmask"),
        ("node2_hostname", "node two", "not allowed here; expected host name"),
        ("dns_server2", "1.2.3", "IPv4"),
    ],
)
def test_network_form_names_the_bad_field(
    client: TestClient, field: str, value: str, words: str
) -> None:
    app = client.app
    config = app.state.web.settings.config_file  # type: ignore[attr-defined]
    before = config.read_text()
    reply = network(client, **{field: value})
    assert reply.status_code == 422, reply.text
    errors = fields_of(reply)
    assert field in errors, errors
    assert words in errors[field]
    assert "Nothing was saved" in reply.json()["message"]
    assert config.read_text() == before


def test_a_bad_ping_node_is_shown_beside_the_ping_nodes(client: TestClient) -> None:
    reply = network(client, ping_nodes=["127.0.1.1", "256.1.1.1"])
    assert reply.status_code == 422
    assert "ping_nodes" in fields_of(reply)
    assert reply.json()["errors"][0]["key"] == "ping.nodes[1]"


def test_notification_rejects_an_address_without_domain(client: TestClient) -> None:
    reply = client.put("/api/notification", json={"addresses": ["ops@localhost"]})
    assert reply.status_code == 422
    assert "addresses" in fields_of(reply)


def test_notification_rejects_a_relay_host_with_spaces(client: TestClient) -> None:
    reply = client.put("/api/notification", json={"relay_host": "mail relay"})
    assert reply.status_code == 422
    assert "relay_host" in fields_of(reply)


def test_a_wrong_shape_is_reported_the_same_way(client: TestClient) -> None:
    reply = client.put("/api/notification", json={"relay_port": "twenty-five"})
    assert reply.status_code == 422
    assert "relay_port" in fields_of(reply)


TARGETS = ["admin", "root-node1", "root-node2", "root-ve101", "panel"]


@pytest.mark.parametrize("target", TARGETS)
def test_an_empty_password_is_refused(client: TestClient, target: str) -> None:
    htpasswd = client.app.state.web.settings.secrets.htpasswd  # type: ignore[attr-defined]
    before = htpasswd.read_text()
    reply = client.post("/api/passwords", json={"target": target, "password": "", "repeat": ""})
    assert reply.status_code == 422
    assert "must not be empty" in fields_of(reply)["password"]
    assert htpasswd.read_text() == before


@pytest.mark.parametrize("target", TARGETS)
def test_a_short_password_is_refused(client: TestClient, target: str) -> None:
    htpasswd = client.app.state.web.settings.secrets.htpasswd  # type: ignore[attr-defined]
    before = htpasswd.read_text()
    reply = client.post("/api/passwords", json={"target": target, "password": "seven77",
                                                "repeat": "seven77"})  # fmt: skip
    assert reply.status_code == 422
    assert "too short: at least 8 characters" in fields_of(reply)["password"]
    assert htpasswd.read_text() == before


@pytest.mark.parametrize("target", TARGETS)
def test_passwords_must_match(client: TestClient, target: str) -> None:
    htpasswd = client.app.state.web.settings.secrets.htpasswd  # type: ignore[attr-defined]
    before = htpasswd.read_text()
    body = {"target": target, "password": "long enough 1", "repeat": "other one 1"}
    reply = client.post("/api/passwords", json=body)
    assert reply.status_code == 422
    assert "repeat" in fields_of(reply)
    assert htpasswd.read_text() == before


def test_an_unknown_target_is_refused_beside_it(client: TestClient) -> None:
    body = {"target": "root-ve102", "password": "long enough 1", "repeat": "long enough 1"}
    reply = client.post("/api/passwords", json=body)
    assert reply.status_code == 422
    assert "target" in fields_of(reply)


def test_errors_come_in_the_chosen_language(client: TestClient) -> None:
    assert client.put("/api/session/language", json={"language": "de"}).status_code == 200
    reply = client.post("/api/passwords", json={"target": "admin", "password": "", "repeat": ""})
    assert fields_of(reply)["password"] == "Das Passwort darf nicht leer sein."
    assert client.put("/api/session/language", json={"language": "en"}).status_code == 200
    reply = client.post("/api/passwords", json={"target": "admin", "password": "", "repeat": ""})
    assert fields_of(reply)["password"] == "The password must not be empty."


def test_nothing_is_pending_after_refused_forms(client: TestClient) -> None:
    assert client.app.state.web.journal.entries() == []  # type: ignore[attr-defined]
