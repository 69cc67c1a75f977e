"""Routed container addresses on the external network, and moving a container to the other
node as the service group will (VE-1, CM-1, CM-3): /vz leaves node1 and is mounted on
node2, the container starts there, and its gratuitous ARP moves the address at once."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest

from tandem.lab.lab import Lab
from tests.containers.conftest import Node, admin_ping, mount_vz, unmount_vz

pytestmark = pytest.mark.lab


def admin_neighbour(lab: Lab, address: str) -> str:
    """The MAC the administrator's PC has for `address`."""
    out = subprocess.run(
        ["ip", "neigh", "show", address, "dev", lab.spec.host_if],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return out[out.index("lladdr") + 1] if "lladdr" in out else ""


def mac(node: Node) -> str:
    return node.run("cat", "/sys/class/net/eth0/address", check=True).stdout.strip()


@pytest.fixture
def address(ve_lab: Lab) -> Iterator[str]:
    yield str(ve_lab.spec.subnet.network_address + 90)


def test_a_container_moves_to_the_other_node(ve_lab: Lab, address: str) -> None:
    node1 = mount_vz(ve_lab, "node1")
    node2 = Node(ve_lab, "node2")
    try:
        node1.ok("create", "101", "--ostemplate", "busybox", "--config", "vps.256MB",
                 "--hostname", "vps101.example.com", "--ipadd", address)  # fmt: skip
        node1.ok("start", "101")
        assert admin_ping(address)
        assert admin_neighbour(ve_lab, address) == mac(node1)  # proxy ARP: node1's MAC
        node1.sh(101, "echo written on node1 > /root/note")
        # The service group's way down on node1 ...
        node1.ok("stop", "101")
        node1.run("umount", "/vz", check=True)
        assert not admin_ping(address, within=2)
        # ... and up on node2: the same /vz (the replicated volume, here the same image).
        image = str(ve_lab.spec.machine_dir("node1") / "vz.img")
        node2.run("mount", "-o", "loop", image, "/vz", check=True)
        time.sleep(1.1)  # Linux ignores a neighbour update within a second of the last
        node2.ok("start", "101")
        assert admin_neighbour(ve_lab, address) == mac(node2), "gratuitous ARP moved it"
        assert admin_ping(address)
        assert node2.sh(101, "cat /root/note").stdout.strip() == "written on node1"
        log = node2.ok("log", "101")
        assert "node1 start started on node1" in log and "node2 start started on node2" in log
    finally:
        unmount_vz(node2)
        node1.run("umount", "/vz")


def test_addresses_are_proxied_only_while_running(ve_lab: Lab, address: str) -> None:
    node1 = mount_vz(ve_lab, "node1")
    try:
        node1.ok("create", "102", "--ostemplate", "busybox", "--config", "vps.256MB",
                 "--ipadd", address)  # fmt: skip
        assert node1.run("ip", "neigh", "show", "proxy").stdout.strip() == ""
        node1.ok("start", "102")
        proxied = node1.run("ip", "neigh", "show", "proxy").stdout
        assert f"{address} dev eth0 proxy" in proxied
        route = node1.run("ip", "route", "show", address).stdout
        assert "dev ve102" in route
        node1.sh(102, "halt")  # the container stops itself: LXC's hook cleans up
        for _ in range(50):
            if "stopped" in node1.ok("list", "-a") or "mounted" in node1.ok("list", "-a"):
                break
            time.sleep(0.2)
        assert f"{address} dev eth0 proxy" not in node1.run("ip", "neigh", "show", "proxy").stdout
    finally:
        unmount_vz(node1)
