"""Issue 3 acceptance in the lab, fast profile (HB-1..HB-6): paths lost one by one, all
of them, ping nodes, the witness in a partition, the fallback without one, bad packets."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tandem.config.secrets import read_cluster_key
from tandem.lab.lab import Lab
from tandem.membership import wire
from tests.conftest import TANDEM, TEST_LAB, tandem
from tests.lab.conftest import in_node
from tests.lab.membership_probe import PROBE

pytestmark = pytest.mark.lab

DEADTIME, KEEPALIVE, PING_INTERVAL = 2.0, 0.2, 0.5  # the fast profile


def lab_up(*options: str) -> Lab:
    Lab.down(TEST_LAB)
    result = tandem("lab", "up", *options)
    assert result.returncode == 0, result.stderr
    return Lab.open(TEST_LAB)


def status(node: str) -> dict[str, Any]:
    result = in_node(node, "tandem", "status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["membership"]  # type: ignore[no-any-return]


def start_probe(node: str, condition: str, timeout: float = 15.0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [TANDEM, "lab", "exec", node, "--", "python", "-c", PROBE, condition, str(timeout)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TANDEM_LAB_NAME": TEST_LAB},
    )


def finish(probe: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = probe.communicate(timeout=60)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    assert probe.returncode == 0, f"condition not reached: {result.get('status')} {err}"
    return result


def wait_for(node: str, condition: str, timeout: float = 15.0) -> dict[str, Any]:
    return finish(start_probe(node, condition, timeout))


ALL_UP = "s['peer_state'] == 'alive' and all(p['state'] != 'down' for p in s['paths'].values())"


def cut(node: str, *paths: str) -> float:
    result = tandem("lab", "cut", node, *paths, "--json")
    assert result.returncode == 0, result.stderr
    return float(json.loads(result.stdout)["at"])


def heal(node: str, *paths: str) -> None:
    tandem("lab", "heal", node, *paths, check=True)


@pytest.fixture(scope="module")
def default_lab() -> Iterator[Lab]:
    try:
        lab = lab_up()
        for node in ("node1", "node2"):
            wait_for(node, ALL_UP)
        yield lab
    finally:
        Lab.down(TEST_LAB)


def log_of(lab: Lab, node: str) -> str:
    return (lab.spec.machine_dir(node) / "var-log-tandem" / "membership.log").read_text()  # type: ignore[arg-type]


def test_one_path_then_two_the_peer_stays_alive(default_lab: Lab) -> None:
    cut("node1", "crossover")
    for node in ("node1", "node2"):
        s = wait_for(node, "s['paths']['crossover']['state'] == 'down'", 5)["status"]
        assert s["peer_state"] == "alive"
    cut("node1", "serial")
    for node in ("node1", "node2"):
        s = wait_for(node, "s['paths']['serial']['state'] == 'down'", 5)["status"]
        assert s["peer_state"] == "alive"
        assert s["paths"]["external"]["state"] == "up"
    heal("node1", "crossover", "serial")
    for node in ("node1", "node2"):
        wait_for(node, ALL_UP, 5)
    logs = log_of(default_lab, "node2")
    assert "path crossover to node1 down: nothing for 2 s" in logs
    assert "path crossover to node1 up" in logs


def test_all_paths_cut_the_peer_is_dead_within_deadtime_plus_keepalive(default_lab: Lab) -> None:
    probes = {n: start_probe(n, "s['peer_state'] == 'dead'", 10) for n in ("node1", "node2")}
    time.sleep(1.0)  # the probes are polling
    at = cut("node1", "serial", "crossover", "external")
    for node, probe in probes.items():
        s = finish(probe)["status"]
        detected = s["peer_state_since"] - at
        print(
            f"\n{node} declared its peer dead {detected:.2f} s after the cut "
            f"(deadtime {DEADTIME} s + keepalive {KEEPALIVE} s)"
        )
        assert 0 < detected <= DEADTIME + KEEPALIVE
    heal("node1", "serial", "crossover", "external")
    for node in ("node1", "node2"):
        wait_for(node, ALL_UP, 10)
    assert "peer node1 dead: nothing on serial, crossover or external for 2 s" in log_of(
        default_lab, "node2"
    )


def test_ping_node_lost_is_known_on_both_nodes_within_two_intervals(default_lab: Lab) -> None:
    router = str(default_lab.spec.router_ip)
    lost = f"s['ping']['node1']['{router}'] is False and s['ping']['node2']['{router}'] is True"
    probes = {n: start_probe(n, lost, 10) for n in ("node1", "node2")}
    time.sleep(1.0)
    at = cut("node1", "ping")
    try:
        for node, probe in probes.items():
            took = finish(probe)["t"] - at
            print(
                f"\n{node} knew node1 lost its ping node after {took:.2f} s "
                f"(two intervals: {2 * PING_INTERVAL} s)"
            )
            # Two intervals by design; the bound allows a busy machine half a second more
            # (CI measured 1.05 s once against 1.0).
            assert took <= 2 * PING_INTERVAL + 0.5
    finally:
        heal("node1", "ping")
    back = f"s['ping']['node1']['{router}'] is True"
    for node in ("node1", "node2"):
        wait_for(node, back, 5)


def test_forged_replayed_truncated_oversized_packets_are_dropped(default_lab: Lab) -> None:
    before = status("node1")
    supervisor = json.loads(in_node("node1", "tandem", "node", "status", "--json").stdout)
    membership_pid = next(s["pid"] for s in supervisor["services"] if s["name"] == "membership")
    key_file = default_lab.spec.root / "install" / "etc-tandem" / "secrets" / "cluster.key"
    key = wire.derive_key(read_cluster_key(key_file), "heartbeat")
    target = (str(default_lab.spec.external_ip("node1")), 694)
    peer_gen = before["peer_generation"]
    body = {
        "ack": 0,
        "ack_gen": 0,
        "claim": False,
        "claim_seq": 0,
        "granted": False,
        "yield": False,
        "yield_to": 0,
        "hears": True,
        "ping": {},
        "cfg": "",
    }
    replay = wire.encode(wire.Packet("beat", 2, "external", peer_gen, 1, body), key)
    forged = wire.encode(wire.Packet("beat", 2, "external", peer_gen, 10**9, body), b"x" * 32)
    wrong_path = wire.encode(wire.Packet("beat", 2, "crossover", peer_gen, 10**9, body), key)
    packets = {
        "replay": replay,
        "bad-mac": forged,
        "truncated": replay[:-5],
        "oversized": b"\0" * 2000,
        "foreign": b"hello, is this the heartbeat port?" + b"\0" * 40,
        "wrong-path": wrong_path,
    }
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for data in packets.values():
            for _ in range(3):
                sock.sendto(data, target)
    time.sleep(0.5)
    after = status("node1")
    for reason in packets:
        gained = after["dropped"].get(reason, 0) - before["dropped"].get(reason, 0)
        assert gained == 3, f"{reason}: {after['dropped']}"
    assert after["peer_state"] == "alive"
    supervisor = json.loads(in_node("node1", "tandem", "node", "status", "--json").stdout)
    membership = next(s for s in supervisor["services"] if s["name"] == "membership")
    assert (membership["pid"], membership["restarts"]) == (membership_pid, 0)
    human = in_node("node1", "tandem", "status").stdout
    assert "bad-mac 3" in human and "oversized 3" in human


def test_witness_decides_a_partition() -> None:
    """External heartbeat off by policy (HB-1), serial and crossover cut: the nodes lose
    each other but both reach the witness in the router."""
    lab = lab_up("--no-external-heartbeat")
    try:
        for node in ("node1", "node2"):
            wait_for(node, ALL_UP + " and s['quorum']['witness'] == 'reachable'")
        claimed = in_node("node1", "tandem", "membership", "claim")
        assert claimed.returncode == 0, claimed.stderr
        wait_for("node1", "s['service_group']['granted']", 5)
        cut("node1", "serial", "crossover")
        one = wait_for("node1", "s['peer_state'] == 'dead'", 10)["status"]
        two = wait_for("node2", "s['peer_state'] == 'dead'", 10)["status"]
        time.sleep(1.0)
        one, two = status("node1"), status("node2")
        assert one["quorum"]["granted"] is True
        assert one["quorum"]["votes"] == ["self", "witness"]
        assert one["service_group"]["granted"] is True
        assert two["quorum"]["granted"] is False
        assert two["quorum"]["reason"].startswith("no quorum")
        assert two["service_group"]["granted"] is False
        witness = json.loads(in_node("router", "tandem", "witness", "status", "--json").stdout)
        assert witness["holder"] == "node1"
        # And without a claim, exactly one side is quorate all the same.
        in_node("node1", "tandem", "membership", "release", "--stopped").check_returncode()
        time.sleep(DEADTIME + 1.0)
        quorate = [n for n in ("node1", "node2") if status(n)["quorum"]["granted"]]
        assert len(quorate) == 1, quorate
    finally:
        Lab.down(TEST_LAB)
    assert lab.spec.name == TEST_LAB


def test_without_witness_the_ping_node_and_fencing_decide() -> None:
    """No witness: the node that runs the group keeps it while it reaches a ping node; the
    other may not take over without fencing; losing the ping node too makes the holder
    give up, and as its HA loop hangs (stopped with SIGSTOP) and so never says the
    services are released, its watchdog resets it. (A HA loop that works says at once
    that nothing runs: tests/crm/test_core.py.)"""
    lab_up("--no-witness", "--no-external-heartbeat")
    try:
        for node in ("node1", "node2"):
            wait_for(node, ALL_UP)
        in_node("node1", "tandem", "membership", "claim").check_returncode()
        wait_for("node1", "s['service_group']['granted']", 5)
        cut("node1", "serial", "crossover")
        wait_for("node2", "s['peer_state'] == 'dead'", 10)
        one = wait_for("node1", "s['service_group']['basis'] == 'holding'", 10)["status"]
        assert one["service_group"]["granted"] is True
        two = status("node2")
        assert two["quorum"]["granted"] is False
        assert two["service_group"]["may_fence_peer"] is True
        assert "fencing" in two["quorum"]["reason"]
        supervisor = json.loads(in_node("node1", "tandem", "node", "status", "--json").stdout)
        crm = next(s for s in supervisor["services"] if s["name"] == "crm")
        in_node("node1", "kill", "-STOP", str(crm["pid"])).check_returncode()
        at = cut("node1", "ping")
        deadline = time.time() + 10
        while time.time() < deadline:
            info = json.loads(tandem("lab", "status", "--json").stdout)
            if info["machines"]["node1"]["state"] == "off":
                break
            time.sleep(0.1)
        took = time.time() - at
        print(f"\nnode1 lost its ping node and reset itself {took:.2f} s later")
        assert info["machines"]["node1"]["state"] == "off"
        assert took < 5.0
        log = Path(f"/var/lib/tandem-lab/{TEST_LAB}/node1/var-log-tandem/membership.log")
        text = log.read_text()
        assert "gives up the service group: no ping node is reachable" in text
        assert "resets itself" in text
    finally:
        Lab.down(TEST_LAB)
