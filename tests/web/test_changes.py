"""DESIGN invariant 5 with two real web servers: a change made on either node is applied on
both, or the answer says exactly what did not happen; with the peer down the change is
kept and delivered when it returns; after a partition the newer change wins on both and
the lost one is reported."""

from __future__ import annotations

import json

from tests.web.conftest import Node, wait_for


def ping_nodes(node: Node) -> list[str]:
    return list(node.client.get("/api/network").json()["ping_nodes"])


def set_ping(node: Node, *addresses: str) -> dict:  # type: ignore[type-arg]
    values = node.client.get("/api/network").json()
    reply = node.send(
        "PUT", "/api/network", {**values, "ping_nodes": list(addresses), "confirm": True}
    )
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def test_a_change_on_either_node_is_applied_on_both(cluster: dict[str, Node]) -> None:
    node1, node2 = cluster["node1"], cluster["node2"]
    result = set_ping(node1, "127.0.1.1", "127.0.1.2")
    assert result["complete"] is True
    assert result["nodes"]["node1"]["state"] == "applied"
    assert result["nodes"]["node2"]["state"] == "applied"
    assert ping_nodes(node2) == ["127.0.1.1", "127.0.1.2"]
    assert (node1.etc / "cluster.toml").read_text() == (node2.etc / "cluster.toml").read_text()
    # And back, from the other side.
    assert set_ping(node2, "127.0.1.1")["complete"] is True
    assert ping_nodes(node1) == ["127.0.1.1"]


def test_a_change_that_restarts_services_asks_first(cluster: dict[str, Node]) -> None:
    node1, node2 = cluster["node1"], cluster["node2"]
    before = (node1.etc / "cluster.toml").read_text()
    values = node1.client.get("/api/network").json()
    reply = node1.send("PUT", "/api/network", {**values, "ping_nodes": ["127.0.1.9"]})
    assert reply.status_code == 409
    assert reply.json()["needs_confirmation"] is True
    assert reply.json()["services"] == ["membership"]
    assert (node1.etc / "cluster.toml").read_text() == before
    assert (node2.etc / "cluster.toml").read_text() == before


def test_saving_the_same_values_changes_nothing(cluster: dict[str, Node]) -> None:
    node1 = cluster["node1"]
    before = (node1.etc / "cluster.toml").stat().st_mtime_ns
    result = set_ping(node1, *ping_nodes(node1))
    assert result["nodes"]["node1"]["state"] == "unchanged"
    assert (node1.etc / "cluster.toml").stat().st_mtime_ns == before


def test_the_notification_settings_reach_the_peer(cluster: dict[str, Node]) -> None:
    node1, node2 = cluster["node1"], cluster["node2"]
    body = {"addresses": ["ops@example.com"], "relay_host": "mail.example.com",
            "relay_port": 587, "language": "en", "events": ["failover", "updates"]}  # fmt: skip
    reply = node1.send("PUT", "/api/notification", body)
    assert reply.status_code == 200 and reply.json()["complete"], reply.text
    assert node2.client.get("/api/notification").json() == body


def test_with_the_peer_down_the_change_is_kept_and_delivered(
    own_cluster: dict[str, Node],
) -> None:
    node1, node2 = own_cluster["node1"], own_cluster["node2"]
    node2.stop()
    result = set_ping(node1, "127.0.1.7")
    assert result["complete"] is False
    assert result["nodes"]["node1"]["state"] == "applied"
    assert result["nodes"]["node2"]["state"] == "pending"
    assert "not reachable" in result["message"]
    pending = node1.client.get("/api/pending").json()["pending"]
    assert [p["kind"] for p in pending] == ["config"]
    assert (
        "127.0.1.7" in json.loads((node1.state / "pending.json").read_text())[0]["payload"]["toml"]
    )
    page = node1.client.get("/network").text
    assert "data-pending" in page
    node2.start()
    assert node2.login().status_code == 200
    wait_for(lambda: ping_nodes(node2) == ["127.0.1.7"])
    wait_for(lambda: node1.client.get("/api/pending").json()["pending"] == [])
    assert "data-pending" not in node1.client.get("/network").text


def test_after_a_partition_the_newer_change_wins_and_the_loss_is_told(
    own_cluster: dict[str, Node],
) -> None:
    node1, node2 = own_cluster["node1"], own_cluster["node2"]
    node2.stop()
    assert set_ping(node1, "127.0.1.21")["nodes"]["node2"]["state"] == "pending"
    node1.stop()  # node1 goes down before node2 is back: the change stays in its journal
    node2.start()
    assert node2.login().status_code == 200
    assert set_ping(node2, "127.0.1.22")["nodes"]["node1"]["state"] == "pending"
    node1.start()
    assert node1.login().status_code == 200
    wait_for(lambda: ping_nodes(node1) == ping_nodes(node2) == ["127.0.1.22"])
    wait_for(lambda: not node1.client.get("/api/pending").json()["pending"]
             and not node2.client.get("/api/pending").json()["pending"])  # fmt: skip
    notices = node1.client.get("/api/pending").json()["notices"]
    assert len(notices) == 1
    assert "was not applied on node2" in notices[0]["text"]
    assert notices[0]["text"] in node1.client.get("/status").text.replace("&#39;", "'")
    dismissed = node1.send("DELETE", f"/api/notices/{notices[0]['id']}")
    assert dismissed.status_code == 200
    assert node1.client.get("/api/pending").json()["notices"] == []


def test_an_admin_password_set_while_the_peer_is_down_reaches_it(
    own_cluster: dict[str, Node],
) -> None:
    node1, node2 = own_cluster["node1"], own_cluster["node2"]
    node2.stop()
    body = {"target": "admin", "password": "while apart 1", "repeat": "while apart 1"}
    result = node1.send("POST", "/api/passwords", body).json()
    assert result["nodes"]["node2"]["state"] == "pending"
    journal = (node1.state / "pending.json").read_text()
    assert "while apart 1" not in journal  # only the bcrypt hash is kept
    node2.start()
    wait_for(lambda: node2.login("while apart 1").status_code == 200)
