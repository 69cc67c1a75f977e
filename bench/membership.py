"""Membership in the lab: how long after all paths are cut the peer is declared dead,
against the configured deadtime, for both timing profiles; and how much CPU one node's
membership daemon takes at the fast profile.

Run as root:  uv run python bench/membership.py [--trials 5] [--seed-trials 1] [--cpu 30]
It builds its own lab (name `tandemb`) and takes it down afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

LAB = "tandemb"
TANDEM = str(Path(sys.executable).parent / "tandem")
ENV = {**os.environ, "TANDEM_LAB_NAME": LAB}
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.lab.membership_probe import PROBE  # noqa: E402


def tandem(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TANDEM, *args], capture_output=True, text=True, env=ENV, check=True)


def probe(node: str, condition: str, timeout: float) -> subprocess.Popen[str]:
    argv = [TANDEM, "lab", "exec", node, "--", "python", "-c", PROBE, condition, str(timeout)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=ENV)


def result(p: subprocess.Popen[str]) -> dict[str, object]:
    out, _ = p.communicate()
    data: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    if p.returncode != 0:
        raise SystemExit(f"condition not reached: {data}")
    return data


ALL_UP = "s['peer_state'] == 'alive' and all(p['state'] != 'down' for p in s['paths'].values())"


def detection(deadtime: float) -> float:
    """Cut every path of node1; seconds until node2 declares it dead."""
    watcher = probe("node2", "s['peer_state'] == 'dead'", deadtime * 3)
    time.sleep(1.0)
    cut = json.loads(
        tandem("lab", "cut", "node1", "serial", "crossover", "external", "--json").stdout
    )
    status = result(watcher)["status"]
    tandem("lab", "heal", "node1", "serial", "crossover", "external")
    result(probe("node2", ALL_UP, deadtime * 3))
    return float(status["peer_state_since"]) - float(cut["at"])  # type: ignore[index]


def cpu_share(seconds: float) -> float:
    """Percent of one core used by node1's membership daemon over `seconds`."""
    services = json.loads(
        tandem("lab", "exec", "node1", "--", "tandem", "node", "status", "--json").stdout
    )
    pid = next(s["pid"] for s in services["services"] if s["name"] == "membership")

    def ticks() -> int:
        stat = tandem("lab", "exec", "node1", "--", "cat", f"/proc/{pid}/stat").stdout
        fields = stat.rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    hz = os.sysconf("SC_CLK_TCK")
    start, t0 = ticks(), time.monotonic()
    time.sleep(seconds)
    used, elapsed = ticks() - start, time.monotonic() - t0
    return 100.0 * used / hz / elapsed


def run_profile(profile: str, deadtime: float, trials: int, cpu: float) -> None:
    tandem("lab", "down")
    tandem("lab", "up", "--profile", profile)
    try:
        for node in ("node1", "node2"):
            result(probe(node, ALL_UP, 30 + 3 * deadtime))
        times = [detection(deadtime) for _ in range(trials)]
        mean, worst = statistics.mean(times), max(times)
        print(
            f"{profile:5} deadtime {deadtime:5.1f} s: declared dead after "
            f"{', '.join(f'{t:.2f}' for t in times)} s; mean {mean:.2f} s, worst {worst:.2f} s "
            f"= {worst / deadtime:.2f} x deadtime",
            flush=True,
        )
        if cpu:
            share = cpu_share(cpu)
            print(f"{profile:5} membership daemon on node1: {share:.2f} % of one core "
                  f"over {cpu:.0f} s", flush=True)  # fmt: skip
    finally:
        tandem("lab", "down")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=5, help="trials at the fast profile")
    parser.add_argument("--seed-trials", type=int, default=1, help="trials at the seed profile")
    parser.add_argument("--cpu", type=float, default=30.0, help="seconds of CPU measurement")
    args = parser.parse_args()
    run_profile("fast", 2.0, args.trials, args.cpu)
    if args.seed_trials:
        run_profile("seed", 60.0, args.seed_trials, 0)


if __name__ == "__main__":
    main()
