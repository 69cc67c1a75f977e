"""Noticing that a container hit one of its limits, and writing it to its action log (VE-3,
VE-7: the Power Panel's "warnings about insufficient resources").

The kernel counts limit hits per cgroup (OOM kills, refused forks, CPU throttling); the
counters start at zero with each start of the container. Every observation (a `ve status`,
`ve list`, `ve exec`, `ve stop`, and the `ve watch` loop) compares them with the last
observation of the same run, kept in /vz/lxc/<ID>/limits.json, and logs what is new. A
full disk has no counter: it is logged when an observation finds the disk full.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from tandem.containers import actionlog
from tandem.containers.cgroups import Counters
from tandem.containers.image import DiskUsage
from tandem.containers.samples import Resources
from tandem.containers.units import human

FULL = 1024**2  # a disk with less than this left refuses most writes already


@dataclass(frozen=True)
class Snapshot:
    run: str  # which run of the container (init pid and its start time)
    counters: Counters
    disk_full: bool = False
    inodes_full: bool = False
    cpu_logged: bool = False


def load(path: Path) -> Snapshot | None:
    try:
        data = json.loads(path.read_text())
        return Snapshot(
            run=data["run"],
            counters=Counters(**data["counters"]),
            disk_full=data.get("disk_full", False),
            inodes_full=data.get("inodes_full", False),
            cpu_logged=data.get("cpu_logged", False),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(path: Path, snapshot: Snapshot) -> None:
    data = asdict(snapshot)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data) + "\n")
    tmp.replace(path)


def news(
    before: Snapshot | None, now: Snapshot, resources: Resources, disk: DiskUsage | None
) -> tuple[list[str], Snapshot]:
    """Sentences for what is new since `before`, and the snapshot to keep."""
    base = before.counters if before is not None and before.run == now.run else Counters()
    c = now.counters
    found = []
    if c.memory_oom_kills > base.memory_oom_kills:
        n = c.memory_oom_kills - base.memory_oom_kills
        found.append(
            f"memory limit {_size(resources.memory)} reached: {n} process{'es' if n > 1 else ''} "
            "killed by the kernel (out of memory)"
        )
    elif c.memory_limit_hits > base.memory_limit_hits:
        found.append(
            f"memory limit {_size(resources.memory)} reached "
            f"{c.memory_limit_hits - base.memory_limit_hits} times: the kernel reclaimed caches"
        )
    if c.numproc_refusals > base.numproc_refusals:
        n = c.numproc_refusals - base.numproc_refusals
        found.append(
            f"process limit {resources.numproc} reached: {n} new process{'es' if n > 1 else ''} "
            "refused"
        )
    same_run = before is not None and before.run == now.run
    cpu_logged = same_run and before is not None and before.cpu_logged
    if c.cpu_throttled > base.cpu_throttled and not cpu_logged:
        found.append(f"CPU limit {resources.cpulimit}% reached: the container was slowed down")
        cpu_logged = True
    disk_full = inodes_full = False
    if disk is not None:
        disk_full = disk.total > 0 and disk.available < FULL
        inodes_full = disk.inodes_total > 0 and disk.inodes_used >= disk.inodes_total
        was_full = before is not None and before.disk_full
        was_inodes = before is not None and before.inodes_full
        if disk_full and not was_full:
            found.append(f"disk limit {human(disk.total)} reached: the disk is full")
        if inodes_full and not was_inodes:
            found.append(f"inode limit {disk.inodes_total} reached: no more files can be made")
    return found, Snapshot(now.run, c, disk_full, inodes_full, cpu_logged)


def record(
    state_file: Path,
    log_file: Path,
    node: str,
    run: str,
    counters: Counters,
    resources: Resources,
    disk: DiskUsage | None,
) -> list[str]:
    """Compare with the last observation, log what is new, keep this one."""
    found, snapshot = news(load(state_file), Snapshot(run, counters), resources, disk)
    for sentence in found:
        actionlog.append(log_file, node, "limit", sentence)
    save(state_file, snapshot)
    return found


def _size(value: int | None) -> str:
    return "unlimited" if value is None else human(value)
