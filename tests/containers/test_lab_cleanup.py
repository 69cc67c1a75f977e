"""A crashed node leaves neither loop devices nor cgroups on the host (they are host-wide:
cgroup v1 has no namespaces, loop devices never had), and a node that boots again starts
its containers despite what the crash left (LAB-2, VE-1)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tandem.lab.lab import Lab, default_subnet
from tandem.lab.sweep import lab_cgroups, leftovers, loops_under, sweep
from tandem.lab.topology import LabSpec
from tests.conftest import TEST_LAB, tandem
from tests.containers.conftest import admin_ping, mount_vz

pytestmark = pytest.mark.lab


@pytest.fixture
def lab() -> Iterator[Lab]:
    spec = LabSpec(TEST_LAB, default_subnet(TEST_LAB))
    sweep(spec)
    try:
        tandem("lab", "up", check=True)
        yield Lab.open(TEST_LAB)
    finally:
        tandem("lab", "down")


def cgroup_dirs() -> list[str]:
    found = subprocess.run(
        ["find", "/sys/fs/cgroup", "-maxdepth", "6", "-type", "d", "-name", f"tandem.{TEST_LAB}.*"],
        capture_output=True,
        text=True,
    ).stdout
    return found.split()


def test_crash_then_down_leaves_no_loop_devices_or_cgroups(lab: Lab) -> None:
    spec = lab.spec
    node1 = mount_vz(lab)
    address = str(spec.subnet.network_address + 60)
    node1.ok(
        "create", "101", "--ostemplate", "busybox", "--config", "vps.256MB", "--ipadd", address
    )
    node1.ok("start", "101")
    assert admin_ping(address)
    assert len(loops_under(spec.root)) == 2  # /vz and the container's disk inside it
    assert cgroup_dirs(), "the running container has cgroups"
    assert tandem("lab", "crash", "node1").returncode == 0
    assert tandem("lab", "down").returncode == 0
    assert loops_under(spec.root) == []
    assert lab_cgroups(spec) == [] and cgroup_dirs() == []
    # loops_under above finds a container's disk too (its backing file shows as "/vz/lxc/..."
    # from inside the node); a bare "/vz/lxc" search of `losetup -a` would also see another
    # lab's containers, a `make demo` running beside the tests.
    losetup = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    assert TEST_LAB not in losetup
    assert leftovers(spec) == []
    assert not Path(spec.root).exists()


def test_crash_removes_the_nodes_cgroups_and_it_boots_again(lab: Lab) -> None:
    node1 = mount_vz(lab)
    address = str(lab.spec.subnet.network_address + 61)
    node1.ok(
        "create", "101", "--ostemplate", "busybox", "--config", "vps.256MB", "--ipadd", address
    )
    node1.ok("start", "101")
    assert tandem("lab", "crash", "node1").returncode == 0
    assert cgroup_dirs() == [], "a crash takes the node's cgroups, as a reboot would"
    assert loops_under(lab.spec.root) == []
    assert tandem("lab", "boot", "node1").returncode == 0
    node1 = mount_vz(Lab.open(TEST_LAB), fresh=False)
    assert "stopped" in node1.ok("list", "-a")
    node1.ok("start", "101")
    assert admin_ping(address)


def test_start_after_the_monitor_was_killed(lab: Lab) -> None:
    """Without the lab's help: LXC's monitor killed (kill -9) leaves the container's
    cgroups behind, and LXC would refuse to start it again; tandem removes them first."""
    node1 = mount_vz(lab)
    address = str(lab.spec.subnet.network_address + 62)
    node1.ok(
        "create", "101", "--ostemplate", "busybox", "--config", "vps.256MB", "--ipadd", address
    )
    node1.ok("start", "101")
    init = node1.run("lxc-info", "-n", "101", "-P", "/vz/lxc", "-p", "-H", check=True).stdout
    node1.run(
        "sh", "-c", f"pkill -9 -f '^.lxc monitor. /vz/lxc 101$'; kill -9 {init.strip()}", check=True
    )
    assert cgroup_dirs(), "the killed monitor could not remove the cgroups"
    assert "stopped" in node1.ok("list", "-a") or "mounted" in node1.ok("list", "-a")
    node1.ok("start", "101")
    assert admin_ping(address)
