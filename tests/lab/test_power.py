"""A clean restart and shutdown of a node from its command line (seed 5.1.1 Wartung;
issue 9's "clean shutdown and reboot of each node from the command line"), on the demo
cluster with the real HA loops, supervisors and the lab's init.

node1 runs the group. `tandem node reboot` on node1 moves the group to node2 first, then
node1 restarts (same machine, new processes) and comes back passive with its data
UpToDate (no automatic failback, CM-4). `tandem node shutdown` on the passive node1
powers it off while node2 keeps serving; node2, now alone, refuses to shut down (the
group could not move) and keeps serving; node1 boots and resyncs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tandem.lab.lab import Lab
from tests.lab.conftest import in_node
from tests.lab.failover_helpers import answers, crm, demo_fixture, url, wait_active
from tests.lab.volume_helpers import SYNCED, ok, wait

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def demo() -> Iterator[Lab]:
    yield from demo_fixture()


def supervisor(node: str) -> dict[str, Any]:
    info: dict[str, Any] = json.loads(ok(in_node(node, "tandem", "node", "status", "--json")))
    return info


def wait_until(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} not within {timeout} s"
        time.sleep(0.3)


def test_reboot_of_the_active_node_moves_the_group_first(demo: Lab) -> None:
    wait_active("node1", 120)
    wait("node1", SYNCED, 120)
    before = supervisor("node1")
    machine = demo.running()["node1"]
    reply = in_node("node1", "tandem", "node", "reboot", "--json", timeout=180)
    result = json.loads(ok(reply))["power"]
    assert result["done"], result
    assert "node1 runs the service group: moving it to node2 first" in result["steps"]
    assert result["sentence"] == "node1 restarts now, on the operator's request"
    assert wait_active("node2", 30)["active"]
    wait_until("the service answering on node2", lambda: answers(url(demo), 2), 60)
    # The same machine (the lab's init) with a new supervisor: a restart, not a crash.
    wait_until("node1's supervisor back", lambda: in_node(
        "node1", "tandem", "node", "status").returncode == 0, 90)  # fmt: skip
    after = supervisor("node1")
    assert demo.running()["node1"] == machine
    assert after["pid"] != before["pid"] and float(after["started"]) > float(before["started"])
    wait("node1", SYNCED, 180)
    time.sleep(3)  # a few HA rounds: no failback (CM-4)
    back = crm("node1")
    assert not back["active"] and back["peer_crm"]["active"], back
    assert answers(url(demo), 2)
    events = ok(in_node("node1", "tandem", "events", "--json", "-n", "500", timeout=60))
    assert "node1 restarts now, on the operator's request" in events


def test_shutdown_of_the_passive_node_and_the_lone_node_refuses(demo: Lab) -> None:
    wait_active("node2", 60)
    reply = in_node("node1", "tandem", "node", "shutdown", timeout=120)
    assert "node1 is passive: node2 keeps serving" in ok(reply)
    wait_until("node1 powered off", lambda: "node1" not in demo.running(), 60)
    assert answers(url(demo), 2)
    # node2 alone: its group has nowhere to go, so it refuses and keeps serving.
    time.sleep(3)
    refused = in_node("node2", "tandem", "node", "shutdown", timeout=180)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "not shutting node2 down: the service group could not move to node1" in (
        refused.stdout + refused.stderr
    ).replace("\n", " ")
    assert "node2" in demo.running() and crm("node2")["group"] == "running"
    assert answers(url(demo), 2)
    demo.boot("node1")
    wait_until("node1's HA loop", lambda: in_node(
        "node1", "tandem", "crm", "status").returncode == 0, 90)  # fmt: skip
    wait("node2", SYNCED, 180)
    assert crm("node2")["active"] and answers(url(demo), 2)
