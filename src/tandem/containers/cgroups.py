"""The kernel's view of a container's resources: cgroup v1 (this machine) or v2.

LXC creates the cgroups and writes the limits from the generated config; this module finds
them again to read usage and limit hits, and removes the empty ones a crash leaves behind.
The limits sit on the container's outer cgroup (`.../ve<ID>`); its processes run in the
inner `ns` below it, a cgroup namespace, so the container cannot raise its own limits.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tandem.containers.samples import Resources

INNER = "ns"
SEARCH_DEPTH = 6  # LXC creates its cgroups under the caller's own in some hierarchies
NO_LIMIT_V1 = 2**62  # limit_in_bytes reads 9223372036854771712 when unlimited
CFS_PERIOD_US = 100_000
V1_SHARES_MAX = 262_144
V2_WEIGHT_MAX = 10_000


@dataclass(frozen=True)
class CgroupSystem:
    v1: dict[str, Path]  # controller (and name=systemd) -> mount point
    unified: Path | None  # the cgroup2 mount
    unified_controllers: frozenset[str] = frozenset()
    memsw: bool = False  # swap accounting, so memory+swap can be capped too

    @property
    def version(self) -> int:
        """1 when the memory controller is on a v1 hierarchy (hybrid setups count as 1)."""
        return 1 if "memory" in self.v1 else 2

    def hierarchies(self) -> list[Path]:
        roots = sorted(set(self.v1.values()))
        if self.unified is not None:
            roots.append(self.unified)
        return roots


def parse_mountinfo(text: str) -> CgroupSystem:
    v1: dict[str, Path] = {}
    unified = None
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        fields = right.split()
        if len(fields) < 3:
            continue
        point = Path(left.split()[4])
        if fields[0] == "cgroup2":
            unified = point
        elif fields[0] == "cgroup":
            for option in fields[2].split(","):
                if option in _V1_CONTROLLERS or option.startswith("name="):
                    v1.setdefault(option, point)
    controllers: frozenset[str] = frozenset()
    if unified is not None:
        with contextlib.suppress(OSError):
            controllers = frozenset((unified / "cgroup.controllers").read_text().split())
    memsw = "memory" in v1 and (v1["memory"] / "memory.memsw.limit_in_bytes").exists()
    return CgroupSystem(v1, unified, controllers, memsw)


_V1_CONTROLLERS = frozenset(
    {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "net_cls"}
)


def detect() -> CgroupSystem:
    return parse_mountinfo(Path("/proc/self/mountinfo").read_text())


@dataclass(frozen=True)
class ContainerCgroups:
    """The outer cgroup directory of one running container, per controller."""

    dirs: dict[str, Path] = field(default_factory=dict)

    def file(self, controller: str, name: str) -> Path | None:
        base = self.dirs.get(controller)
        return None if base is None else base / name


def leaf(veid: int) -> str:
    """The name of a container's own cgroup (its limits are set there)."""
    return f"ve{veid}"


def of_process(system: CgroupSystem, pid: int, veid: int) -> ContainerCgroups:
    """Where container `veid`, whose init is `pid`, has its limits: its `ve<ID>` cgroup,
    above the `ns` its processes run in (and whatever its own init makes below that)."""
    dirs: dict[str, Path] = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        parts = path.strip("/").split("/")
        if leaf(veid) in parts:
            parts = parts[: len(parts) - parts[::-1].index(leaf(veid))]
        relative = "/".join(parts)
        if not controllers:
            if system.unified is not None:
                dirs["unified"] = system.unified / relative
            continue
        for controller in controllers.split(","):
            mount = system.v1.get(controller)
            if mount is not None:
                dirs[controller] = mount / relative
    return ContainerCgroups(dirs)


def _read(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text()
    except OSError:
        return None


def _int(path: Path | None) -> int | None:
    text = _read(path)
    if text is None:
        return None
    value = text.strip()
    return None if value == "max" else int(value)


def _keyed(text: str | None, key: str) -> int:
    for line in (text or "").splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


def _subtree(base: Path | None, name: str) -> Iterator[Path]:
    """`name` in `base` and in every cgroup below it (the limit may be hit in `ns`)."""
    if base is None or not base.is_dir():
        return
    for directory, _, _ in os.walk(base):
        candidate = Path(directory) / name
        if candidate.exists():
            yield candidate


@dataclass(frozen=True)
class Usage:
    memory: int | None  # bytes in use
    memory_limit: int | None
    tasks: int | None  # processes and threads
    tasks_limit: int | None
    cpu_seconds: float | None  # CPU time used since start


@dataclass(frozen=True)
class Counters:
    """How often each limit was hit since the container started."""

    memory_oom_kills: int = 0
    memory_limit_hits: int = 0
    numproc_refusals: int = 0
    cpu_throttled: int = 0


def usage(system: CgroupSystem, cg: ContainerCgroups) -> Usage:
    if system.version == 1:
        limit = _int(cg.file("memory", "memory.limit_in_bytes"))
        cpu_ns = _int(cg.file("cpuacct", "cpuacct.usage"))
        return Usage(
            memory=_int(cg.file("memory", "memory.usage_in_bytes")),
            memory_limit=None if limit is None or limit >= NO_LIMIT_V1 else limit,
            tasks=_int(cg.file("pids", "pids.current")),
            tasks_limit=_int(cg.file("pids", "pids.max")),
            cpu_seconds=None if cpu_ns is None else cpu_ns / 1e9,
        )
    stat = _read(cg.file("unified", "cpu.stat"))
    return Usage(
        memory=_int(cg.file("unified", "memory.current")),
        memory_limit=_int(cg.file("unified", "memory.max")),
        tasks=_int(cg.file("unified", "pids.current")),
        tasks_limit=_int(cg.file("unified", "pids.max")),
        cpu_seconds=_keyed(stat, "usage_usec") / 1e6 if stat is not None else None,
    )


def counters(system: CgroupSystem, cg: ContainerCgroups) -> Counters:
    if system.version == 1:
        memory, pids, cpu = cg.dirs.get("memory"), cg.dirs.get("pids"), cg.dirs.get("cpu")
        return Counters(
            memory_oom_kills=sum(
                _keyed(_read(p), "oom_kill") for p in _subtree(memory, "memory.oom_control")
            ),
            memory_limit_hits=_int(cg.file("memory", "memory.failcnt")) or 0,
            numproc_refusals=sum(_keyed(_read(p), "max") for p in _subtree(pids, "pids.events")),
            cpu_throttled=_keyed(_read(cpu / "cpu.stat") if cpu else None, "nr_throttled"),
        )
    base = cg.dirs.get("unified")
    events = _read(cg.file("unified", "memory.events"))
    return Counters(
        memory_oom_kills=_keyed(events, "oom_kill"),
        memory_limit_hits=_keyed(events, "max"),
        numproc_refusals=sum(_keyed(_read(p), "max") for p in _subtree(base, "pids.events")),
        cpu_throttled=_keyed(_read(cg.file("unified", "cpu.stat")), "nr_throttled"),
    )


def find_groups(system: CgroupSystem, name: str) -> list[Path]:
    """Every cgroup directory called `name`, in every hierarchy, at any shallow depth."""
    found = []
    for root in system.hierarchies():
        for directory, subdirs, _ in os.walk(root):
            depth = len(Path(directory).relative_to(root).parts)
            if Path(directory).name == name:
                found.append(Path(directory))
                subdirs.clear()
            elif depth >= SEARCH_DEPTH:
                subdirs.clear()
    return found


def remove_tree(top: Path) -> list[Path]:
    """Remove the empty cgroups under and including `top`, deepest first; a cgroup that
    still has processes stays (the kernel refuses), so this never harms a live one."""
    removed: list[Path] = []
    if not top.is_dir():
        return removed
    for directory, _, _ in sorted(os.walk(top), key=lambda e: -len(Path(e[0]).parts)):
        try:
            Path(directory).rmdir()
            removed.append(Path(directory))
        except OSError:
            pass
    return removed


def remove_stale(system: CgroupSystem, group: str, veid: int) -> list[Path]:
    """The cgroups of stopped container `veid` that a killed monitor or a crash left
    behind; LXC refuses to start a container whose cgroup already exists."""
    removed = []
    for base in find_groups(system, group):
        for name in (leaf(veid), f"{leaf(veid)}.monitor"):
            removed += remove_tree(base / name)
    return removed


def limit_settings(r: Resources, system: CgroupSystem) -> list[tuple[str, str]]:
    """The cgroup files and values that enforce `r` (VE-3), "no limit" included, in the
    order that suits a fresh cgroup (memory before memory+swap)."""
    if system.version == 1:
        memory = "-1" if r.memory is None else str(r.memory)
        found = [("memory.limit_in_bytes", memory)]
        if system.memsw:  # memory+swap capped too, so swap is no way around the limit
            found.append(("memory.memsw.limit_in_bytes", memory))
        found.append(("pids.max", "max" if r.numproc is None else str(r.numproc)))
        shares = max(2, min(V1_SHARES_MAX, round(r.cpuunits * 1024 / 1000)))
        found.append(("cpu.shares", str(shares)))
        found.append(("cpu.cfs_period_us", str(CFS_PERIOD_US)))
        quota = -1 if r.cpulimit is None else r.cpulimit * CFS_PERIOD_US // 100
        found.append(("cpu.cfs_quota_us", str(quota)))
        return found
    weight = max(1, min(V2_WEIGHT_MAX, round(r.cpuunits * 100 / 1000)))
    cpu_max = "max" if r.cpulimit is None else str(r.cpulimit * CFS_PERIOD_US // 100)
    return [
        ("memory.max", "max" if r.memory is None else str(r.memory)),
        ("memory.swap.max", "max" if r.memory is None else "0"),
        ("pids.max", "max" if r.numproc is None else str(r.numproc)),
        ("cpu.weight", str(weight)),
        ("cpu.max", f"{cpu_max} {CFS_PERIOD_US}"),
    ]


def controller_of(name: str, system: CgroupSystem) -> str:
    return name.split(".", maxsplit=1)[0] if system.version == 1 else "unified"


def apply_limits(system: CgroupSystem, cg: ContainerCgroups, r: Resources) -> None:
    """Set the limits of a running container. The kernel keeps memory <= memory+swap at
    every moment, so when memory grows, memory+swap must grow first."""
    settings = limit_settings(r, system)
    if system.version == 1:
        current = _int(cg.file("memory", "memory.limit_in_bytes")) or 0
        growing = r.memory is None or r.memory > current
        memory = [s for s in settings if s[0].startswith("memory.")]
        rest = [s for s in settings if not s[0].startswith("memory.")]
        settings = (list(reversed(memory)) if growing else memory) + rest
    for name, value in settings:
        target = cg.file(controller_of(name, system), name)
        if target is not None and target.exists():
            target.write_text(value)
