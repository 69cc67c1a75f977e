"""Issue 2 acceptance: each node is its own host, and every path can be cut and healed
(LAB-1, LAB-2). A cut is total and instant; healing restores it."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from tandem.lab.lab import Lab
from tests.conftest import TANDEM, TEST_LAB, tandem
from tests.lab.conftest import can_ping, in_node, lab_exec

pytestmark = pytest.mark.lab


def test_each_node_has_its_own_hostname(lab: Lab) -> None:
    for machine in ("node1", "node2", "router"):
        result = lab_exec(machine, "hostname")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == machine


def test_crossover_cut_and_heal(lab: Lab) -> None:
    assert lab_exec("node1", "ping", "-c1", "-W1", "192.168.255.2").returncode == 0
    assert tandem("lab", "cut", "node1", "crossover").returncode == 0
    try:
        assert not can_ping("node1", "192.168.255.2")
        assert can_ping("node1", str(lab.spec.external_ip("node2")))  # only that cable
    finally:
        assert tandem("lab", "heal", "node1", "crossover").returncode == 0
    assert can_ping("node1", "192.168.255.2")


def test_external_cut_and_heal(lab: Lab) -> None:
    node2 = str(lab.spec.external_ip("node2"))
    assert can_ping("node1", node2)
    tandem("lab", "cut", "node1", "external", check=True)
    try:
        assert not can_ping("node1", node2)
        assert not can_ping("node1", str(lab.spec.router_ip))
        assert can_ping("node1", "192.168.255.2")
    finally:
        tandem("lab", "heal", "node1", "external", check=True)
    assert can_ping("node1", node2)


def test_ping_node_cut_and_heal(lab: Lab) -> None:
    router = str(lab.spec.router_ip)
    assert can_ping("node1", router)
    tandem("lab", "cut", "node1", "ping", check=True)
    try:
        assert not can_ping("node1", router)
        # Isolated from the ping node only: the peer and node2's own view are untouched.
        assert can_ping("node1", str(lab.spec.external_ip("node2")))
        assert can_ping("node2", router)
    finally:
        tandem("lab", "heal", "node1", "ping", check=True)
    assert can_ping("node1", router)


def test_peer_cut_and_heal(lab: Lab) -> None:
    """`peer`: the external network between the nodes only; both keep the router and the
    administrator's PC (the split-brain test's cut, tests/lab/test_split_brain.py)."""
    node2 = str(lab.spec.external_ip("node2"))
    assert can_ping("node1", node2)
    tandem("lab", "cut", "node1", "peer", check=True)
    try:
        assert not can_ping("node1", node2)
        assert not can_ping("node2", str(lab.spec.external_ip("node1")))
        assert can_ping("node1", str(lab.spec.router_ip))
        assert can_ping("node2", str(lab.spec.router_ip))
        assert can_ping("node1", "192.168.255.2")  # the crossover cable is another path
    finally:
        tandem("lab", "heal", "node1", "peer", check=True)
    assert can_ping("node1", node2)


def serial_line_arrives(text: str) -> bool:
    """Write a line on node1's serial device; does node2 read it on its own?"""
    reader = subprocess.Popen(
        [TANDEM, "lab", "exec", "node2", "--", "timeout", "3", "head", "-n1", "/dev/ttyS0"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "TANDEM_LAB_NAME": TEST_LAB},
    )  # fmt: skip
    time.sleep(0.8)
    assert in_node("node1", "sh", "-c", f"echo {text} > /dev/ttyS0").returncode == 0
    out, _ = reader.communicate(timeout=10)
    return out.strip() == text


def test_serial_cut_and_heal(lab: Lab) -> None:
    assert serial_line_arrives("hello-over-serial")
    tandem("lab", "cut", "node1", "serial", check=True)
    try:
        assert not serial_line_arrives("lost-while-cut")
    finally:
        tandem("lab", "heal", "node1", "serial", check=True)
    assert serial_line_arrives("back-again")


def test_supervisor_runs_on_each_node(lab: Lab) -> None:
    for node in ("node1", "node2"):
        result = in_node(node, "tandem", "node", "status", "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["node"] == node


def test_production_paths_are_per_node(lab: Lab) -> None:
    in_node("node1", "sh", "-c", "echo mine > /vz/owner").check_returncode()
    assert in_node("node1", "cat", "/vz/owner").stdout.strip() == "mine"
    assert in_node("node2", "cat", "/vz/owner").returncode != 0
    config = in_node("node2", "tandem", "config", "check")
    assert config.returncode == 0 and config.stdout.startswith("OK"), config.stderr


def test_status_and_up_again(lab: Lab) -> None:
    again = tandem("lab", "up")
    assert again.returncode == 0
    assert "is up already" in again.stdout
    info = json.loads(tandem("lab", "status", "--json").stdout)
    assert {m: v["state"] for m, v in info["machines"].items()} == {
        "router": "on", "node1": "on", "node2": "on",
    }  # fmt: skip
    assert info["machines"]["node1"]["paths"]["crossover"] == "up"
