"""The generated LXC config: limits for cgroup v1 and v2, per-node cgroup names, routed
network, the hook's proxy-ARP entries."""

from __future__ import annotations

from pathlib import Path

from tandem.containers import lxcconf
from tandem.containers.cgroups import CgroupSystem
from tandem.containers.layout import Layout
from tests.containers.helpers import GIB, MIB, definition, facts, resources

V1 = CgroupSystem(v1={"memory": Path("/sys/fs/cgroup/memory")}, unified=None, memsw=True)
V2 = CgroupSystem(v1={}, unified=Path("/sys/fs/cgroup"))


def keys(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition(" = ")
            out.append((key, value))
    return out


def test_v1_limits() -> None:
    found = dict(lxcconf.limit_keys(resources(), V1))
    assert found["lxc.cgroup.memory.limit_in_bytes"] == str(256 * MIB)
    assert found["lxc.cgroup.memory.memsw.limit_in_bytes"] == str(256 * MIB)  # no swap escape
    assert found["lxc.cgroup.pids.max"] == "256"
    assert found["lxc.cgroup.cpu.shares"] == "1024"
    assert found["lxc.cgroup.cpu.cfs_quota_us"] == "50000"
    assert found["lxc.cgroup.cpu.cfs_period_us"] == "100000"


def test_v2_limits() -> None:
    found = dict(lxcconf.limit_keys(resources(cpuunits=2000, cpulimit=200), V2))
    assert found["lxc.cgroup2.memory.max"] == str(256 * MIB)
    assert found["lxc.cgroup2.memory.swap.max"] == "0"
    assert found["lxc.cgroup2.pids.max"] == "256"
    assert found["lxc.cgroup2.cpu.weight"] == "200"
    assert found["lxc.cgroup2.cpu.max"] == "200000 100000"


def test_unlimited_switches_limits_off() -> None:
    unlimited = resources(memory=None, numproc=None, cpulimit=None, cpuunits=500_000)
    found = dict(lxcconf.limit_keys(unlimited, V1))
    assert found["lxc.cgroup.memory.limit_in_bytes"] == "-1"
    assert found["lxc.cgroup.pids.max"] == "max"
    assert found["lxc.cgroup.cpu.cfs_quota_us"] == "-1"
    assert found["lxc.cgroup.cpu.shares"] == "262144"  # the kernel's maximum
    v2 = dict(lxcconf.limit_keys(unlimited, V2))
    assert v2["lxc.cgroup2.memory.max"] == "max" and v2["lxc.cgroup2.cpu.max"] == "max 100000"
    assert v2["lxc.cgroup2.cpu.weight"] == "10000"


def test_config_names_the_node_and_routes_the_addresses() -> None:
    text = lxcconf.render(definition(), facts(), V1, Layout(), lxcconf.Signals())
    found = keys(text)
    assert ("lxc.cgroup.dir.container", "tandem.tandem.node1/ve101") in found
    assert ("lxc.cgroup.dir.monitor", "tandem.tandem.node1/ve101.monitor") in found
    assert ("lxc.net.0.veth.mode", "router") in found
    assert ("lxc.net.0.ipv4.address", "10.0.0.103/32") in found
    assert ("lxc.net.0.ipv4.address", "10.0.0.104/32") in found
    assert ("lxc.net.0.ipv4.gateway", "10.0.0.1") in found
    assert ("lxc.rootfs.path", "dir:/vz/lxc/101/rootfs") in found
    assert ("lxc.log.file", "/vz/lxc/101/lxc.log") in found  # logs follow the container
    assert all(not v.startswith("/etc") for _, v in found)


def test_no_address_means_no_network() -> None:
    found = keys(lxcconf.render(definition(addresses=()), facts(), V1, Layout(), lxcconf.Signals()))
    assert ("lxc.net.0.type", "empty") in found


def test_repair_config_binds_the_broken_disk() -> None:
    text = lxcconf.render(definition(), facts(), V1, Layout(), lxcconf.Signals(), repair=True)
    found = keys(text)
    assert ("lxc.rootfs.path", "dir:/vz/lxc/101/rescue") in found
    assert ("lxc.mount.entry", "/vz/lxc/101/rootfs repair none bind,create=dir 0 0") in found


def test_hook_proxies_every_address() -> None:
    hook = lxcconf.render_hook(101, definition().addresses, "eth0")
    assert "ip neigh replace proxy 10.0.0.103 dev eth0" in hook
    assert "ip neigh del proxy 10.0.0.104 dev eth0" in hook
    assert hook.startswith("#!/bin/sh")


def test_disk_size_is_not_a_cgroup_matter() -> None:
    found = dict(lxcconf.limit_keys(resources(diskspace=8 * GIB), V1))
    assert not any("disk" in k for k in found)


def test_no_disk_of_the_node_is_open_to_a_container() -> None:
    found = keys(lxcconf.render(definition(), facts(), V1, Layout(), lxcconf.Signals()))
    assert found.index(("lxc.cgroup.devices.deny", "a")) < found.index(
        ("lxc.cgroup.devices.allow", "c 1:3 rwm")
    )
    assert ("lxc.cgroup.devices.allow", "b *:* m") in found  # mknod yes, open no
    assert not any(k.endswith("devices.allow") and v.startswith("b") and "r" in v for k, v in found)
    v2 = keys(lxcconf.render(definition(), facts(), V2, Layout(), lxcconf.Signals()))
    assert ("lxc.cgroup2.devices.deny", "a") in v2
