"""Limit hits become action log entries once, when they are new (VE-3, VE-7)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tandem.containers import actionlog, limits
from tandem.containers.cgroups import Counters
from tandem.containers.image import DiskUsage
from tandem.lab.sweep import MARK
from tests.conftest import TEST_LAB
from tests.containers.conftest import BIN, Node
from tests.containers.helpers import GIB, resources

R = resources()
ROOMY = DiskUsage(used=GIB, total=2 * GIB, available=GIB, inodes_used=100, inodes_total=1000)
FULL = DiskUsage(used=2 * GIB, total=2 * GIB, available=0, inodes_used=100, inodes_total=1000)


def test_new_hits_are_reported_once() -> None:
    first = limits.Snapshot("1:10", Counters(memory_oom_kills=1, numproc_refusals=3))
    found, kept = limits.news(None, first, R, ROOMY)
    assert found == [
        "memory limit 256 MiB reached: 1 process killed by the kernel (out of memory)",
        "process limit 256 reached: 3 new processes refused",
    ]
    again, _ = limits.news(kept, first, R, ROOMY)
    assert again == []


def test_a_new_run_starts_counting_again() -> None:
    before = limits.Snapshot("1:10", Counters(numproc_refusals=5))
    now = limits.Snapshot("2:99", Counters(numproc_refusals=1))
    found, _ = limits.news(before, now, R, ROOMY)
    assert found == ["process limit 256 reached: 1 new process refused"]


def test_cpu_throttling_is_logged_once_per_run() -> None:
    found, kept = limits.news(None, limits.Snapshot("1:1", Counters(cpu_throttled=4)), R, None)
    assert found == ["CPU limit 50% reached: the container was slowed down"]
    found, _ = limits.news(kept, limits.Snapshot("1:1", Counters(cpu_throttled=9)), R, None)
    assert found == []


def test_full_disk_is_logged_when_it_becomes_full() -> None:
    found, kept = limits.news(None, limits.Snapshot("1:1", Counters()), R, FULL)
    assert found == ["disk limit 2 GiB reached: the disk is full"]
    assert limits.news(kept, limits.Snapshot("1:1", Counters()), R, FULL)[0] == []
    _, emptied = limits.news(kept, limits.Snapshot("1:1", Counters()), R, ROOMY)
    assert limits.news(emptied, limits.Snapshot("1:1", Counters()), R, FULL)[0] != []


def test_record_writes_the_action_log(tmp_path: Path) -> None:
    state, log = tmp_path / "limits.json", tmp_path / "actions.log"
    counters = Counters(memory_oom_kills=2)
    limits.record(state, log, "node1", "7:7", counters, R, None)
    limits.record(state, log, "node1", "7:7", counters, R, None)
    entries = actionlog.read(log)
    assert [(e.node, e.kind) for e in entries] == [("node1", "limit")]
    assert "2 processes killed" in entries[0].message


@pytest.mark.lab
def test_the_watcher_logs_limit_hits_nobody_asked_about(node1: Node) -> None:
    """`tandem ve watch` (a node service) notices a limit hit between commands."""
    node1.ok("create", "140", "--ostemplate", "busybox", "--config", "vps.256MB")
    node1.ok("start", "140")
    watcher = subprocess.Popen(
        ["nsenter", "-t", str(node1.pid), "-a", "--", f"{BIN}/tandem", "ve", "watch",
         "--interval", "0.5"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, MARK: TEST_LAB},
    )  # fmt: skip
    try:
        hog = "(sleep 1; dd if=/dev/zero of=/dev/null bs=400M count=1) >/dev/null 2>&1 &"
        node1.ok("exec", "140", "--", "sh", "-c", hog)
        deadline = time.monotonic() + 15
        log = ""
        while time.monotonic() < deadline and "memory limit" not in log:
            time.sleep(0.5)
            log = node1.run("cat", "/vz/lxc/140/actions.log", check=True).stdout
        assert "limit memory limit 256 MiB reached" in log
    finally:
        os.killpg(watcher.pid, signal.SIGTERM)
        watcher.wait(timeout=10)
        node1.ve("stop", "--fast", "140")
        node1.ve("destroy", "140")
    assert "container 140: memory limit 256 MiB reached" in (
        watcher.stderr.read() if watcher.stderr else ""
    )
