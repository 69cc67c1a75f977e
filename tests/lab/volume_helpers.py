"""Driving the replicated volume inside lab nodes, for the volume's lab tests."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

from tandem.lab.lab import Lab, default_subnet
from tandem.lab.sweep import sweep
from tandem.lab.topology import LabSpec
from tests.conftest import TANDEM, TEST_LAB, tandem
from tests.lab.conftest import in_node
from tests.lab.membership_probe import PROBE
from tests.lab.volume_probe import READER

VOLUME_FILE = "/run/tandem/volume/volume"


def vol(node: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`tandem volume ARGS` on the node, as an operator types it."""
    return in_node(node, "tandem", "volume", *args, timeout=timeout)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}: {result.stdout}{result.stderr}"
    return result.stdout


def wait(node: str, condition: str, timeout: float = 60) -> dict[str, Any]:
    """The node's volume status once `condition` (Python over `s`) holds."""
    argv = ["python3", "-c", PROBE, condition, str(timeout), "/run/tandem/volume.sock"]
    result = in_node(node, *argv, timeout=timeout + 30)
    status: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])["status"]
    assert result.returncode == 0, f"{node}: not {condition} within {timeout} s: {status}"
    return status


def status(node: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ok(vol(node, "status", "--json")))
    return data


SYNCED = (
    "s['connection'] == 'Connected' and s['disk'] == 'UpToDate' and s['peer_disk'] == 'UpToDate'"
)


def bring_up_cluster() -> Lab:
    """A lab with both new replicas, node1 initialized (seed 7.3), the peer fully
    synced, node1 Primary with a new ext4 mounted at /vz."""
    sweep(LabSpec(TEST_LAB, default_subnet(TEST_LAB)))
    up = tandem("lab", "up", timeout=180)
    assert up.returncode == 0, up.stderr
    for node in ("node1", "node2"):
        maintenance(node, "on")  # these tests drive the volume by hand, not the HA loop
    wait("node1", "s['connection'] == 'Connected'", 60)  # two new replicas wait, connected
    ok(vol("node1", "initialize"))
    wait("node1", SYNCED, 180)
    ok(vol("node1", "primary"))
    ok(vol("node1", "attach", "--mkfs", timeout=300))
    return Lab.open(TEST_LAB)


def maintenance(node: str, mode: str, timeout: float = 60) -> None:
    """The node's HA loop in maintenance mode (watch only) or back to acting."""
    deadline = time.monotonic() + timeout
    while True:
        result = in_node(node, "tandem", "crm", "maintenance", mode)
        if result.returncode == 0:
            return
        assert time.monotonic() < deadline, f"{node}: crm maintenance {mode}: {result.stderr}"
        time.sleep(0.5)


def cluster_fixture() -> Iterator[Lab]:
    try:
        yield bring_up_cluster()
    finally:
        tandem("lab", "down", timeout=180)


def read_records(node: str, path: str) -> dict[str, list[int]]:
    data: dict[str, list[int]] = json.loads(ok(in_node(node, "python3", "-c", READER, path)))
    return data


def spawn_in(node: str, *argv: str) -> subprocess.Popen[str]:
    """A long-running command in the node, its output read as it comes."""
    return subprocess.Popen(
        [TANDEM, "lab", "exec", node, "--", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TANDEM_LAB_NAME": TEST_LAB},
    )
