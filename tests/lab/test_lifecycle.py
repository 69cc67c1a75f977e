"""Issue 2 acceptance: crash, boot and down leave nothing behind (LAB-2); up + down is fast."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tandem.lab.lab import Lab
from tandem.lab.sweep import lab_processes, leftovers
from tests.conftest import tandem
from tests.lab.conftest import can_ping, in_node

pytestmark = pytest.mark.lab


def host_traces(name: str) -> list[str]:
    """What an operator would look at: ip netns, ip link, mounts, loop devices, processes,
    LXC. Only what carries this lab's name: another lab (a demo, a developer's) may be up
    on the same host, and its traces are not this test's."""
    ours = re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w])").search
    found = []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    found += [f"netns {n}" for n in netns.split() if ours(n)]
    links = json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True, text=True).stdout)
    found += [f"link {link['ifname']}" for link in links if link["ifname"].startswith(name)]
    found += [f"mount {line}" for line in Path("/proc/mounts").read_text().splitlines()
              if ours(line)]  # fmt: skip
    loops = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    found += [f"loop {line}" for line in loops.splitlines() if ours(line)]
    found += [f"process {pid}" for pid in lab_processes(name)]
    lxc = subprocess.run(["lxc-ls", "-1"], capture_output=True, text=True).stdout
    found += [f"container {c}" for c in lxc.split()]
    return found


def test_crash_boot_crash_down_leaves_nothing(fresh_lab_name: str) -> None:
    tandem("lab", "up", check=True)
    tandem("lab", "crash", "node1", check=True)
    assert not can_ping("node2", "192.168.255.1")
    assert in_node("node1", "true").returncode != 0  # it is off
    booted = tandem("lab", "boot", "node1")
    assert booted.returncode == 0, booted.stderr
    assert in_node("node1", "hostname").stdout.strip() == "node1"
    assert can_ping("node1", "192.168.255.2")  # the crossover cable is back
    tandem("lab", "crash", "node2", check=True)
    down = tandem("lab", "down")
    assert down.returncode == 0, down.stderr
    assert host_traces(fresh_lab_name) == []
    assert not Path(f"/var/lib/tandem-lab/{fresh_lab_name}").exists()
    assert not Path(f"/run/tandem-lab/{fresh_lab_name}").exists()


def test_down_cleans_up_after_the_keeper_itself_died(fresh_lab_name: str) -> None:
    result = Lab.up(fresh_lab_name)
    keeper = result.lab.state.keeper_pid
    assert keeper is not None
    os.kill(keeper, signal.SIGKILL)  # the lab's own machinery dies; the nodes live on
    time.sleep(0.2)
    assert lab_processes(fresh_lab_name), "the nodes should have outlived the keeper"
    assert "not up" in tandem("lab", "status").stderr
    tandem("lab", "down", check=True)
    assert host_traces(fresh_lab_name) == []
    assert leftovers(result.lab.spec) == []


def test_cut_survives_a_crash_and_boot(fresh_lab_name: str) -> None:
    tandem("lab", "up", check=True)
    tandem("lab", "cut", "node1", "crossover", check=True)
    tandem("lab", "crash", "node2", check=True)
    tandem("lab", "boot", "node2", check=True)
    assert not can_ping("node2", "192.168.255.1")  # the cable is still unplugged
    tandem("lab", "heal", "node1", "crossover", check=True)
    assert can_ping("node2", "192.168.255.1")


def test_clear_errors_for_impossible_requests(fresh_lab_name: str) -> None:
    assert "not up" in tandem("lab", "crash", "node1").stderr
    tandem("lab", "up", check=True)
    boot = tandem("lab", "boot", "node1")
    assert boot.returncode == 1 and "is running" in boot.stderr
    tandem("lab", "crash", "node1", check=True)
    crash = tandem("lab", "crash", "node1")
    assert crash.returncode == 1 and "off already" in crash.stderr
    bad = tandem("lab", "cut", "node3", "serial")
    assert bad.returncode == 2 and "unknown node" in bad.stderr


def test_up_and_down_take_under_15_seconds(fresh_lab_name: str) -> None:
    started = time.monotonic()
    tandem("lab", "up", check=True)
    up = time.monotonic() - started
    tandem("lab", "down", check=True)
    total = time.monotonic() - started
    print(f"\nlab up {up:.2f} s, up + down {total:.2f} s (limit 15 s)")
    assert total < 15.0
