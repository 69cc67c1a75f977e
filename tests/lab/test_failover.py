"""Failover and switchover in the lab (CM-1 to CM-5, HB-4): container 101 serves HTTP on
the demo cluster; the administrator host measures every interruption."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tandem.lab.lab import Lab
from tests.conftest import tandem
from tests.lab.conftest import in_node
from tests.lab.failover_helpers import (
    answers,
    crm,
    demo_fixture,
    downtime,
    url,
    wait_active,
)
from tests.lab.volume_helpers import SYNCED, ok, wait

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def demo() -> Iterator[Lab]:
    yield from demo_fixture()


def events(node: str) -> list[dict[str, object]]:
    out = ok(in_node(node, "python3", "-c", EVENTS))
    data: list[dict[str, object]] = json.loads(out)
    return data


EVENTS = (
    "import json; from tandem.eventlog import log; "
    "print(json.dumps([e.to_json() for e in log.read()]))"
)


def test_crash_of_the_active_node_moves_the_group_within_5_s(demo: Lab) -> None:
    address = url(demo)
    assert answers(address), "container 101 serves before the crash"
    crashed = time.monotonic()
    assert tandem("lab", "crash", "node1").returncode == 0
    seconds = downtime(address, crashed)
    print(f"\ncrash of node1 -> node2 serves: {seconds:.2f} s")
    assert seconds < 5.0, f"downtime {seconds:.2f} s"
    info = wait_active("node2")
    assert info["last_transition"]["kind"] == "failover"
    assert "node1 dead" in info["last_transition"]["reason"]
    sentences = [str(e["sentence"]) for e in events("node2")]
    assert any(s.startswith("taking over: node1 dead") for s in sentences), sentences
    # node1 comes back as the passive node and takes the data it missed; no failback.
    assert tandem("lab", "boot", "node1").returncode == 0
    wait("node2", SYNCED, 180)
    time.sleep(3)
    assert crm("node2")["group"] == "running"
    assert crm("node1")["group"] == "stopped"


def test_switchover_each_way_and_refused_while_the_peer_resyncs(demo: Lab) -> None:
    address = url(demo)
    active = "node2" if crm("node2")["active"] else "node1"
    passive = "node1" if active == "node2" else "node2"
    wait(active, SYNCED, 180)
    # A full resync of the passive node: the switchover must wait for it.
    ok(in_node(passive, "tandem", "volume", "invalidate"))
    refused = in_node(active, "tandem", "switchover", timeout=60)
    assert refused.returncode != 0
    assert "Inconsistent" in refused.stderr or "resync" in refused.stderr, refused.stderr
    assert crm(active)["group"] == "running"
    wait(active, SYNCED, 300)
    for source, target in ((active, passive), (passive, active)):
        began = time.monotonic()
        moved = in_node(source, "tandem", "switchover", "--json", timeout=180)
        assert moved.returncode == 0, moved.stderr
        seconds = downtime(address, began)
        print(f"\nswitchover {source} -> {target}: service back after {seconds:.2f} s")
        wait_active(target)
        assert crm(source)["group"] == "stopped"


def test_losing_the_ping_node_moves_the_group_and_it_stays(demo: Lab) -> None:
    active = "node2" if crm("node2")["active"] else "node1"
    passive = "node1" if active == "node2" else "node2"
    wait(active, SYNCED, 180)
    assert tandem("lab", "cut", active, "ping").returncode == 0
    try:
        info = wait_active(passive, 60)
        assert (
            "reaches no ping node" in json.dumps([e["sentence"] for e in events(active)])
            or info["last_transition"]["kind"] == "switchover"
        )
    finally:
        assert tandem("lab", "heal", active, "ping").returncode == 0
    time.sleep(5)  # no failback (CM-4)
    assert crm(passive)["group"] == "running"
    assert crm(active)["group"] == "stopped"
    assert answers(url(demo))
