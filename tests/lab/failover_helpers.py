"""The demo cluster for the failover tests: service group on node1, container 101 with
its web server; an HTTP client on the administrator host (this host) that measures
downtime (CM-2)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

from tandem.lab.demo import DEMO_VEID, demo_address
from tandem.lab.lab import Lab, default_subnet
from tandem.lab.sweep import sweep
from tandem.lab.topology import LabSpec
from tests.conftest import TEST_LAB, tandem
from tests.lab.conftest import in_node


def demo_fixture(*options: str) -> Iterator[Lab]:
    """The demo cluster (`lab up --demo` with `options`), taken down afterwards."""
    sweep(LabSpec(TEST_LAB, default_subnet(TEST_LAB)))
    try:
        up = tandem("lab", "up", "--demo", *options, timeout=600)
        assert up.returncode == 0, up.stdout + up.stderr
        yield Lab.open(TEST_LAB)
    finally:
        tandem("lab", "down", timeout=180)


def url(lab: Lab) -> str:
    return f"http://{demo_address(lab)}/"


def answers(address: str, timeout: float = 0.5) -> bool:
    try:
        with urllib.request.urlopen(address, timeout=timeout) as reply:
            return b"demo101" in reply.read()
    except OSError:
        return False


def downtime(address: str, since: float, limit: float = 60.0) -> float:
    """Seconds from `since` (monotonic) to the first good answer after a failure."""
    while time.monotonic() - since < limit:
        if answers(address):
            return time.monotonic() - since
        time.sleep(0.05)
    raise AssertionError(f"{address} did not answer within {limit} s")


def crm(node: str) -> dict[str, Any]:
    result = in_node(node, "tandem", "crm", "status", "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)["crm"]
    return data


def wait_active(node: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            last = crm(node)
            if last["group"] == "running":
                return last
        except (AssertionError, ValueError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"the group does not run on {node} after {timeout} s: {last}")


__all__ = ["DEMO_VEID", "answers", "crm", "demo_fixture", "downtime", "url", "wait_active"]
