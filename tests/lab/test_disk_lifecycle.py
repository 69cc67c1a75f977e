"""LAB-2 acceptance, with labs of their own: `lab down` after power cuts, failed disks,
loop devices on a disk and a dead disk daemon leaves nothing behind; a disk daemon that
died is started again when its node boots. (Apart from test_disk.py, whose tests share
one lab for the module.)"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tandem.lab.lab import Lab
from tandem.lab.sweep import mount_devices
from tests.conftest import tandem
from tests.lab.conftest import in_node
from tests.lab.test_disk import read, write
from tests.lab.test_lifecycle import host_traces

pytestmark = pytest.mark.lab


def loops_on(devices: set[str]) -> list[str]:
    """Loop devices backed by a file on one of `devices` (a disk's FUSE mount)."""
    out = subprocess.run(
        ["losetup", "-J", "-l", "-O", "NAME,BACK-MAJ:MIN"], capture_output=True, text=True
    ).stdout
    found = json.loads(out or '{"loopdevices": []}')["loopdevices"]
    return [d["name"] for d in found if str(d["back-maj:min"]).strip() in devices]


def test_down_after_a_power_cut_leaves_nothing_behind(fresh_lab_name: str) -> None:
    tandem("lab", "up", check=True)
    spec = Lab.open(fresh_lab_name).spec
    disks = {node: mount_devices(spec.disk_mount(node)) for node in ("node1", "node2")}
    for node in ("node1", "node2"):  # a loop device on a file on each disk (direct I/O)
        attach = (
            "truncate -s 16M /var/lib/tandem/img && losetup -f --direct-io=on /var/lib/tandem/img"
        )
        assert in_node(node, "sh", "-c", attach).returncode == 0
        assert len(loops_on(disks[node])) == 1
    write("node1", "/var/lib/tandem/t8", "lost", fsync=False, dirsync=False)
    tandem("lab", "power-cut", "node1", check=True)
    assert loops_on(disks["node1"]) == []  # global to the host: detached with the node
    tandem("lab", "fail-disk", "node2", check=True)
    down = tandem("lab", "down")
    assert down.returncode == 0, down.stderr
    # Only this lab's traces: other work on the host may mount "tandem" things of its own.
    mine = [t for t in host_traces(fresh_lab_name) if fresh_lab_name in t or "process" in t]
    assert mine == []
    assert loops_on(disks["node1"] | disks["node2"]) == []
    assert not Path(f"/var/lib/tandem-lab/{fresh_lab_name}").exists()
    assert not Path(f"/run/tandem-lab/{fresh_lab_name}").exists()


def test_a_dead_disk_daemon_is_restarted_at_boot_and_swept_at_down(fresh_lab_name: str) -> None:
    tandem("lab", "up", check=True)
    lab = Lab.open(fresh_lab_name)
    write("node1", "/var/lib/tandem/t9", "flushed", fsync=True, dirsync=True)
    daemon = lab.keeper.call("status")["helpers"]["disk-node1"]["pid"]
    os.kill(daemon, 9)  # the disk daemon dies: its mount is dead (ENOTCONN) in the node
    time.sleep(0.2)
    assert in_node("node1", "ls", "/var/lib/tandem").returncode != 0
    assert lab.status()["machines"]["node1"]["disk"]["state"] == "down"
    tandem("lab", "crash", "node1", check=True)
    booted = tandem("lab", "boot", "node1")
    assert booted.returncode == 0, booted.stderr
    assert read("node1", "/var/lib/tandem/t9") == "flushed"  # what was flushed is there
    os.kill(lab.keeper.call("status")["helpers"]["disk-node2"]["pid"], 9)
    down = tandem("lab", "down")  # with node2's disk dead under its mount
    assert down.returncode == 0, down.stderr
    mine = [t for t in host_traces(fresh_lab_name) if fresh_lab_name in t or "process" in t]
    assert mine == []
