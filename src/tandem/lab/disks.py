"""Each node's disk as the lab handles it: started by the keeper, cut, failed, healed.

A disk (tandem.lab.disk) is a daemon in the host's namespaces that the keeper starts as
a helper, mounted at spec.disk_mount(node) before the node boots; the node's init binds
that mount over /var/lib/tandem. The lab's orders to a disk:

- power_cut: the unflushed writes vanish (after the node was killed: nothing writes);
- writeback: a crashed node's disk kept its power and writes back what it accepted;
- fail / heal: every request answers EIO, or works again; the cache stays as it was.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from tandem.errors import LabError
from tandem.lab.disk.client import DiskClient
from tandem.lab.keeper_client import KeeperClient
from tandem.lab.topology import LabSpec, MachineName
from tandem.system.run import run

START_TIMEOUT = 15.0


def helper_name(node: MachineName) -> str:
    return f"disk-{node}"


def client(spec: LabSpec, node: MachineName, timeout: float = 60.0) -> DiskClient:
    return DiskClient(spec.disk_socket(node), timeout)


def log_path(spec: LabSpec, node: MachineName) -> Path:
    return spec.run_dir / f"disk-{node}.log"


def _mounted(path: Path) -> bool:
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    return any(line.split()[1] == str(path) for line in mounts)


def start(spec: LabSpec, keeper: KeeperClient, nodes: list[MachineName]) -> None:
    """Start the nodes' disks (together: each takes a few tenths of a second to load) and
    wait until each is mounted and answers."""
    for node in nodes:
        _launch(spec, keeper, node)
    for node in nodes:
        _wait_ready(spec, keeper, node)


def _launch(spec: LabSpec, keeper: KeeperClient, node: MachineName) -> None:
    spec.disk_store(node).mkdir(parents=True, exist_ok=True)
    mount = spec.disk_mount(node)
    if _mounted(mount):  # the mount of a disk daemon that died: dead, unmount it
        run(["umount", "-l", str(mount)], check=False)
    mount.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable, "-m", "tandem.lab.disk.daemon",
        "--store", str(spec.disk_store(node)), "--mount", str(mount),
        "--socket", str(spec.disk_socket(node)), "--fsname", f"{spec.name}-{node}-disk",
    ]  # fmt: skip
    keeper.call("start", name=helper_name(node), argv=argv, log=str(log_path(spec, node)))


def _wait_ready(spec: LabSpec, keeper: KeeperClient, node: MachineName) -> None:
    mount = spec.disk_mount(node)
    disk = client(spec, node, timeout=2)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if disk.alive() and _mounted(mount):
            return
        helper = keeper.call("status")["helpers"].get(helper_name(node), {})
        if helper.get("state") == "off":
            break
        time.sleep(0.05)
    raise LabError(f"the disk of {node} did not start; see {log_path(spec, node)}")


def ensure(spec: LabSpec, keeper: KeeperClient, node: MachineName) -> bool:
    """Make sure the node's disk runs before the node boots; True if it had to be started
    again (its daemon had died, so its cache is lost: as after a power cut)."""
    if client(spec, node, timeout=5).alive():
        return False
    keeper.call("stop", name=helper_name(node), timeout=2)
    start(spec, keeper, [node])
    return True


def order(spec: LabSpec, node: MachineName, op: str, **args: Any) -> dict[str, Any]:
    return client(spec, node).call(op, **args)


def status(spec: LabSpec, node: MachineName) -> dict[str, Any]:
    try:
        return client(spec, node, timeout=5).call("status")
    except LabError:
        return {"state": "down"}
