"""The demo's first installation (seed 7.3, done by a script): a new replicated volume
with ext4, container 101 serving HTTP, and the service group active on node1.

It does what an operator does on a new cluster, through the same commands, with the HA
loop in maintenance mode meanwhile (otherwise it would try to run the group on a volume
without a filesystem); then the HA loop takes over and starts the group on node1.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from ipaddress import IPv4Address
from typing import Any

from tandem.errors import TandemError
from tandem.lab.lab import Lab
from tandem.lab.topology import NODES

DEMO_VEID = 101


def demo_address(lab: Lab) -> IPv4Address:
    return lab.spec.subnet.network_address + DEMO_VEID


def _tandem(lab: Lab, node: str, *args: str, timeout: float = 300) -> str:
    argv = lab.exec_argv(node, ["tandem", *args])  # type: ignore[arg-type]
    done = subprocess.run(
        argv, env=lab.exec_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise TandemError(f"{node}: tandem {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _wait(
    lab: Lab, node: str, what: str, check: Callable[[dict[str, Any]], bool], timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            out = _tandem(lab, node, *what.split(), "--json", timeout=20)
            last = json.loads(out)
            if check(last):
                return last
        except (TandemError, ValueError, subprocess.TimeoutExpired):
            pass
        time.sleep(0.5)
    raise TandemError(f"{node}: `tandem {what}` did not reach the expected state: {last}")


def provision(lab: Lab) -> dict[str, str]:
    address = str(demo_address(lab))
    info = {"container": str(DEMO_VEID), "address": address, "url": f"http://{address}/"}
    for node in NODES:
        crm = _wait(lab, node, "crm status", lambda s: "crm" in s, 90)["crm"]
        if crm.get("active") or crm.get("peer_crm", {}).get("active"):
            return info  # installed already: the group runs
    for node in NODES:
        _wait(lab, node, "crm status", lambda s: "crm" in s, 90)
        _tandem(lab, node, "crm", "maintenance", "on")
    _wait(lab, "node1", "volume status", lambda s: s.get("connection") == "Connected", 90)
    _tandem(lab, "node1", "volume", "initialize")
    _wait(
        lab, "node1", "volume status",
        lambda s: s.get("connection") == "Connected" and s.get("peer_disk") == "UpToDate", 300,
    )  # fmt: skip
    _tandem(lab, "node1", "volume", "primary")
    _tandem(lab, "node1", "volume", "attach", "--mkfs")
    _tandem(
        lab, "node1", "ve", "create", str(DEMO_VEID), "--ostemplate", "busybox",
        "--config", "vps.256MB", "--hostname", "demo101", "--ipadd", address,
    )  # fmt: skip
    _tandem(lab, "node1", "ve", "set", str(DEMO_VEID), "--onboot", "yes", "--save")
    _tandem(lab, "node1", "volume", "detach")
    _tandem(lab, "node1", "volume", "secondary")
    for node in NODES:
        _tandem(lab, node, "crm", "maintenance", "off")
    _wait(lab, "node1", "crm status", _group_running, 180)
    return info


def _group_running(status: dict[str, Any]) -> bool:
    return bool(status.get("crm", {}).get("group") == "running")
