"""Failover and switchover downtime in the lab (CM-2), as the administrator host sees it.

Brings up the demo cluster (service group on node1, container 101 serving HTTP), then
repeats: crash the active node (`lab crash`), measure from the crash to the first good
HTTP answer from the other node, boot the crashed node and wait until it is UpToDate
again. Then the same for switchovers. Prints median and maximum of each, and the
baseline: the seed's Heartbeat 1.2 deadtime of 60 s (the minute the seed needed only to
notice a dead node).

    uv run python bench/failover.py --crashes 10 --switchovers 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

from tandem.lab.demo import demo_address
from tandem.lab.lab import Lab

LAB = os.environ.get("TANDEM_LAB_NAME", "tandemb")
ENV = {**os.environ, "TANDEM_LAB_NAME": LAB}
TANDEM = [sys.executable, "-m", "tandem"]
SEED_DEADTIME = 60.0


def tandem(*args: str, timeout: float = 600) -> str:
    done = subprocess.run(
        [*TANDEM, *args], env=ENV, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"tandem {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def in_node(node: str, *args: str) -> str:
    return tandem("lab", "exec", node, "--", *args)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as reply:
            return b"demo101" in reply.read()
    except OSError:
        return False


def back_after(url: str, since: float, limit: float = 120.0) -> float:
    while time.monotonic() - since < limit:
        if answers(url):
            return time.monotonic() - since
        time.sleep(0.02)
    raise SystemExit(f"{url} did not answer within {limit} s")


def active_node(limit: float = 120.0) -> str:
    """The node whose HA loop runs the group; a node that just booted may not answer yet."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for node in ("node1", "node2"):
            try:
                info = json.loads(in_node(node, "tandem", "crm", "status", "--json"))["crm"]
            except (SystemExit, ValueError, KeyError):
                continue
            if info.get("group") == "running":
                return node
        time.sleep(0.5)
    raise SystemExit(f"the group runs on no node after {limit:.0f} s")


def wait_synced(node: str, limit: float = 300.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            s = json.loads(in_node(node, "tandem", "volume", "status", "--json"))
            if s["disk"] == "UpToDate" and s.get("peer_disk") == "UpToDate":
                return
        except (SystemExit, ValueError, KeyError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"{node}: the volume is not UpToDate on both nodes after {limit} s")


def summary(name: str, values: list[float]) -> None:
    med, top = statistics.median(values), max(values)
    print(
        f"{name:<12} n={len(values):<3} median {med:6.2f} s  max {top:6.2f} s  "
        f"seed deadtime / median = {SEED_DEADTIME / med:5.1f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--crashes", type=int, default=10)
    ap.add_argument("--switchovers", type=int, default=10)
    args = ap.parse_args()
    tandem("lab", "down")
    tandem("lab", "up", "--demo")
    url = f"http://{demo_address(Lab.open(LAB))}/"
    try:
        if not answers(url):
            back_after(url, time.monotonic())
        crashes: list[float] = []
        for i in range(args.crashes):
            node = active_node()
            wait_synced(node)
            began = time.monotonic()
            tandem("lab", "crash", node)
            crashes.append(back_after(url, began))
            print(f"crash {i + 1}: {node} crashed, service back after {crashes[-1]:.2f} s")
            tandem("lab", "boot", node)
        switchovers: list[float] = []
        for i in range(args.switchovers):
            node = active_node()
            wait_synced(node)
            began = time.monotonic()
            in_node(node, "tandem", "switchover")
            switchovers.append(back_after(url, began))
            print(f"switchover {i + 1}: from {node}, service back after {switchovers[-1]:.2f} s")
        print()
        if crashes:
            summary("crash", crashes)
        if switchovers:
            summary("switchover", switchovers)
    finally:
        tandem("lab", "down")


if __name__ == "__main__":
    main()
