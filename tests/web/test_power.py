"""Shutting a node down or restarting it from the Maintenance page (MG-2, seed 5.1.1
Wartung), for either node from node1's page, with both nodes' web processes running.

Each node's HA loop and node supervisor are stand-ins on their sockets that answer as the
real ones do (tests/lab/test_power.py runs the real ones and the real restart); what is
checked here is the order: the group moves away first, the power request comes only
after it has moved, and nothing at all happens when the move is refused.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tandem.errors import TandemError
from tests.web.conftest import Node
from tests.web.standin import StandIn

PEER = {"node1": "node2", "node2": "node1"}


class Crm(StandIn):
    """This node's HA loop: active or passive; a switchover moves the group to the peer
    after a moment, or is refused with `refuse`."""

    def __init__(self, run: Path, node: str, active: bool) -> None:
        self.node, self.active = node, active
        self.maintenance = False
        self.refuse: str | None = None
        self.moved_at: float | None = None
        self.requests: list[dict[str, Any]] = []

        async def handle(request: dict[str, Any]) -> dict[str, Any]:
            self.requests.append(request)
            if request["op"] == "switchover":
                if self.refuse:
                    raise TandemError(self.refuse)
                self.moved_at = time.monotonic() + 0.5
                return {"accepted": f"switchover accepted: stopping on {self.node}",
                        "token": "t1"}  # fmt: skip
            return self.status()

        super().__init__(run / "crm.sock", handle)

    def status(self) -> dict[str, Any]:
        if self.moved_at is not None and time.monotonic() >= self.moved_at:
            self.active = False
        return {
            "node": self.node, "peer": PEER[self.node], "active": self.active,
            "group": "running" if self.active else "stopped", "maintenance": self.maintenance,
            "peer_crm": {"active": not self.active},
        }  # fmt: skip


class Supervisor(StandIn):
    def __init__(self, run: Path, node: str) -> None:
        self.requests: list[dict[str, Any]] = []
        self.crm: Crm | None = None
        self.crm_active_when_asked: list[bool] = []

        async def handle(request: dict[str, Any]) -> dict[str, Any]:
            if request["op"] != "power":  # the web's status poller asks too
                return {"node": node, "services": []}
            self.requests.append(request)
            if self.crm is not None:
                self.crm_active_when_asked.append(self.crm.status()["active"])
            return {"node": node, "action": request["action"]}

        super().__init__(run / "node.sock", handle)


@pytest.fixture
def daemons(cluster: dict[str, Node]) -> Iterator[dict[str, tuple[Crm, Supervisor]]]:
    """node1 active, node2 passive; fresh stand-ins for each test."""
    made = {}
    for name, node in cluster.items():
        crm = Crm(node.run, name, active=name == "node1")
        sup = Supervisor(node.run, name)
        sup.crm = crm
        made[name] = (crm, sup)
    try:
        yield made
    finally:
        for crm, sup in made.values():
            crm.close()
            sup.close()


def run_job(node: Node, target: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = node.send("POST", f"/api/nodes/{target}/power", body)
    assert reply.status_code == 202, reply.text
    job = reply.json()
    assert job["node"] == target
    lines: list[str] = list(job["lines"])
    since = job["next"]
    deadline = time.monotonic() + 30
    while True:
        view = node.client.get(f"/api/jobs/{target}/{job['id']}?since={since}&wait=5").json()
        lines += view["lines"]
        since = view["next"]
        if view["state"] != "running":
            return {"state": view["state"], "lines": lines}
        assert time.monotonic() < deadline, lines


def test_the_passive_node_goes_down_at_once_and_the_group_stays(
    cluster: dict[str, Node], daemons: dict[str, tuple[Crm, Supervisor]]
) -> None:
    crm2, sup2 = daemons["node2"]
    result = run_job(cluster["node1"], "node2", {"action": "poweroff"})  # node2 via node1
    assert result["state"] == "done", result
    assert "node2 is passive: node1 keeps serving" in result["lines"]
    assert result["lines"][-1] == "node2 powers off now, on the operator's request"
    assert not any(r["op"] == "switchover" for r in crm2.requests)
    assert sup2.requests == [{"op": "power", "action": "poweroff"}]
    assert daemons["node1"][1].requests == []


def test_the_active_node_moves_the_group_before_it_restarts(
    cluster: dict[str, Node], daemons: dict[str, tuple[Crm, Supervisor]]
) -> None:
    crm1, sup1 = daemons["node1"]
    result = run_job(cluster["node1"], "node1", {"action": "reboot"})
    assert result["state"] == "done", result
    lines = result["lines"]
    assert "node1 runs the service group: moving it to node2 first" in lines
    assert any(
        line.startswith("the service group runs on node2 (switchover took") for line in lines
    )
    assert lines[-1] == "node1 restarts now, on the operator's request"
    assert {"op": "switchover", "force": False} in crm1.requests
    assert sup1.requests == [{"op": "power", "action": "reboot"}]
    assert sup1.crm_active_when_asked == [False]  # powered off only after the move


def test_a_refused_move_stops_everything_unless_forced(
    cluster: dict[str, Node], daemons: dict[str, tuple[Crm, Supervisor]]
) -> None:
    crm1, sup1 = daemons["node1"]
    crm1.refuse = "node2 is not UpToDate (it resyncs: 40 %); wait for the resync"
    refused = run_job(cluster["node1"], "node1", {"action": "poweroff"})
    assert refused["state"] == "failed", refused
    message = refused["lines"][-1]
    assert message.startswith("failed: not shutting node1 down: the service group could not "
                              "move to node2: node2 is not UpToDate")  # fmt: skip
    assert "--force" in message
    assert sup1.requests == []  # nothing was done
    forced = run_job(cluster["node1"], "node1", {"action": "poweroff", "force": True})
    assert forced["state"] == "done", forced
    assert any("it stops with node1 (--force)" in line for line in forced["lines"])
    assert sup1.requests == [{"op": "power", "action": "poweroff"}]


def test_maintenance_mode_refuses_unless_forced(
    cluster: dict[str, Node], daemons: dict[str, tuple[Crm, Supervisor]]
) -> None:
    crm1, sup1 = daemons["node1"]
    crm1.maintenance = True
    refused = run_job(cluster["node1"], "node1", {"action": "reboot"})
    assert refused["state"] == "failed"
    assert "maintenance mode" in refused["lines"][-1]
    assert "tandem crm maintenance off" in refused["lines"][-1]
    assert not any(r["op"] == "switchover" for r in crm1.requests)
    assert sup1.requests == []


def test_without_the_ha_loop_nothing_is_done_unless_forced(
    cluster: dict[str, Node], daemons: dict[str, tuple[Crm, Supervisor]]
) -> None:
    crm2, sup2 = daemons["node2"]
    crm2.close()
    refused = run_job(cluster["node1"], "node2", {"action": "poweroff"})
    assert refused["state"] == "failed"
    assert "the HA loop is not running on this node" in refused["lines"][-1]
    assert sup2.requests == []
    forced = run_job(cluster["node1"], "node2", {"action": "poweroff", "force": True})
    assert forced["state"] == "done", forced
    assert sup2.requests == [{"op": "power", "action": "poweroff"}]


def test_bad_requests_are_refused_with_the_field_named(
    cluster: dict[str, Node], daemons: dict[str, tuple[Crm, Supervisor]]
) -> None:
    node1 = cluster["node1"]
    bad = node1.send("POST", "/api/nodes/node1/power", {"action": "halt"})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["action"]
    assert node1.send("POST", "/api/nodes/node3/power", {"action": "reboot"}).status_code == 422
    assert all(sup.requests == [] for _crm, sup in daemons.values())


def test_the_page_offers_both_nodes_and_warns_first(cluster: dict[str, Node]) -> None:
    page = cluster["node1"].client.get("/maintenance").text
    card = page.split('id="power"', 1)[1].split("</section>", 1)[0]
    for node in ("node1", "node2"):
        assert f'data-job-api="/api/nodes/{node}/power"' in card
        assert f"Shut {node} down now?" in card and f"Restart {node} now?" in card
    # Only this node's own buttons say that this page will lose its connection.
    assert card.count("This page is served by node1") == 2
    assert 'name="force"' in card


def test_only_a_child_of_init_asks_init_to_power_off() -> None:
    """The supervisor's check, in a process whose parent is this test, not PID 1: a
    supervisor started by hand must never power off the machine it runs on."""
    assert os.getpid() != 1
    probe = subprocess.run(
        [sys.executable, "-c", "from tandem.node.power import signal_init\n"
         "try:\n    signal_init('poweroff')\nexcept Exception as e:\n    print(e)\n"
         "else:\n    print('allowed')"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "was not started by init (pid 1)" in probe.stdout, probe.stdout
