"""Resource samples (VE-3): named sets of limits, as readable files an operator can copy.

The seed's Virtuozzo kept `ve-vps.256MB.conf-sample` files in /etc/sysconfig/vz-scripts;
tandem keeps `<name>.conf` in /vz/samples, on the replicated filesystem, so a sample an
operator edits on node1 is there after a switchover too. The samples shipped with tandem
(vps.256MB, vps.512MB, vps.1024MB, unlimited) are copied there when missing; edits to
them are kept. A container copies the sample's values into its own definition when it is
created, so changing a sample later never changes existing containers (as with vzctl).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib import resources as package_files
from pathlib import Path

from tandem.containers import conffile
from tandem.containers.errors import InvalidRequest
from tandem.containers.units import UNLIMITED, format_size, human, parse_count, parse_size
from tandem.fsutil import atomic_write

KEYS = ("DESCRIPTION", "MEMORY", "NUMPROC", "CPUUNITS", "CPULIMIT", "DISKSPACE", "DISKINODES")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SUFFIX = ".conf"
MIN_DISK = 16 * 1024**2
MIN_MEMORY = 16 * 1024**2
CPUUNITS_DEFAULT = 1000
CPUUNITS_RANGE = (8, 500_000)  # vzctl's range
CPULIMIT_MAX = 100 * 1024  # percent of one CPU: 1024 CPUs


@dataclass(frozen=True)
class Resources:
    """The limits of one container, enforced by the kernel (cgroups and the disk image)."""

    memory: int | None  # bytes of RAM; None: no limit
    numproc: int | None  # processes and threads; None: no limit
    cpuunits: int  # relative CPU weight; 1000 is a normal share (vzctl's CPUUNITS)
    cpulimit: int | None  # percent of one CPU (200 = two CPUs); None: no limit
    diskspace: int  # bytes of the container's disk
    diskinodes: int | None  # files the disk can hold; None: one per 16 KiB

    def to_values(self) -> dict[str, str]:
        """As KEY="value" entries (the same keys as the samples)."""
        return {
            "MEMORY": UNLIMITED if self.memory is None else format_size(self.memory),
            "NUMPROC": UNLIMITED if self.numproc is None else str(self.numproc),
            "CPUUNITS": str(self.cpuunits),
            "CPULIMIT": "0" if self.cpulimit is None else str(self.cpulimit),
            "DISKSPACE": format_size(self.diskspace),
            "DISKINODES": UNLIMITED if self.diskinodes is None else str(self.diskinodes),
        }

    def summary(self) -> str:
        memory = "unlimited memory" if self.memory is None else f"{human(self.memory)} memory"
        procs = "unlimited processes" if self.numproc is None else f"{self.numproc} processes"
        cpu = "no CPU limit" if self.cpulimit is None else f"CPU limit {self.cpulimit}%"
        return f"{memory}, {procs}, {cpu}, {human(self.diskspace)} disk"


@dataclass(frozen=True)
class Sample:
    name: str
    description: str
    resources: Resources  # diskspace is 0 when the sample gives a percentage
    disk_percent: int | None  # DISKSPACE="75%": that share of /vz's free space

    def resolve(self, vz_available: int) -> Resources:
        """The sample's limits for a new container, given the free space on /vz."""
        if self.disk_percent is None:
            return self.resources
        size = vz_available * self.disk_percent // 100 // 4096 * 4096
        if size < MIN_DISK:
            raise InvalidRequest(
                f"sample {self.name} asks for {self.disk_percent}% of the free space on /vz, "
                f"which is only {human(size)}; free space on /vz or choose another sample"
            )
        return replace(self.resources, diskspace=size)


def parse_resources(
    values: dict[str, str], source: str, allow_percent: bool = False
) -> tuple[Resources, int | None]:
    """Resources from KEY="value" entries; every key but DESCRIPTION is required."""
    missing = [k for k in KEYS if k != "DESCRIPTION" and k not in values]
    if missing:
        raise InvalidRequest(f"{source} lacks {', '.join(missing)}; add them")
    memory = _optional(values["MEMORY"], lambda v: parse_size(v, f"{source}: MEMORY"))
    if memory is not None and memory < MIN_MEMORY:
        raise InvalidRequest(f"{source}: MEMORY {values['MEMORY']} is too small; give 16M or more")
    numproc = _optional(
        values["NUMPROC"], lambda v: parse_count(v, f"{source}: NUMPROC", 8, 4_194_304)
    )
    low, high = CPUUNITS_RANGE
    cpuunits = parse_count(values["CPUUNITS"], f"{source}: CPUUNITS", low, high)
    cpulimit = parse_count(values["CPULIMIT"], f"{source}: CPULIMIT", 0, CPULIMIT_MAX) or None
    percent = None
    disk = values["DISKSPACE"].strip()
    if disk.endswith("%"):
        if not allow_percent:
            raise InvalidRequest(f"{source}: DISKSPACE must be a size here, like 2G")
        percent = parse_count(disk[:-1], f"{source}: DISKSPACE percentage", 1, 100)
        diskspace = 0
    else:
        diskspace = parse_size(disk, f"{source}: DISKSPACE")
        if diskspace < MIN_DISK:
            raise InvalidRequest(f"{source}: DISKSPACE {disk} is too small; give 16M or more")
    inodes = _optional(
        values["DISKINODES"], lambda v: parse_count(v, f"{source}: DISKINODES", 1024, 2**32 - 1)
    )
    resources = Resources(memory, numproc, cpuunits, cpulimit, diskspace, inodes)
    return resources, percent


def _optional(value: str, parse: Callable[[str], int]) -> int | None:
    if value.strip().lower() == UNLIMITED:
        return None
    return parse(value)


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise InvalidRequest(
            f"sample name {name!r} is not valid; use letters, digits, '.', '_' and '-', "
            "like vps.512MB"
        )
    return name


def parse_sample(name: str, text: str, source: str) -> Sample:
    values = conffile.parse(text, source, KEYS)
    resources, percent = parse_resources(values, source, allow_percent=True)
    return Sample(name, values.get("DESCRIPTION", ""), resources, percent)


def shipped() -> dict[str, str]:
    """The samples that come with tandem: name -> file text."""
    folder = package_files.files("tandem.containers") / "samples"
    return {
        entry.name.removesuffix(SUFFIX): entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith(SUFFIX)
    }


def install(directory: Path) -> list[str]:
    """Copy shipped samples that are missing into `directory`; operators' edits are kept."""
    added = []
    for name, text in shipped().items():
        target = directory / f"{name}{SUFFIX}"
        if not target.exists():
            atomic_write(target, text)
            added.append(name)
    return added


def load(directory: Path, name: str) -> Sample:
    """The sample called `name`, or InvalidRequest listing the ones that exist."""
    check_name(name)
    path = directory / f"{name}{SUFFIX}"
    if not path.is_file():
        known = ", ".join(available(directory)) or "none"
        raise InvalidRequest(
            f"unknown sample {name!r}; the samples in {directory} are: {known} "
            "(copy one to make your own)"
        )
    return parse_sample(name, path.read_text(encoding="utf-8"), str(path))


def available(directory: Path) -> list[str]:
    if not directory.is_dir():
        return []
    return sorted(p.name.removesuffix(SUFFIX) for p in directory.glob(f"*{SUFFIX}"))
