"""Finding and removing whatever a lab left on the host.

Everything a lab starts carries TANDEM_LAB=<name> in its environment and everything it
names starts with <name>, so leftovers are found by those marks, never by guessing at
process names; only processes the lab itself started are ever signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from collections.abc import Collection
from pathlib import Path

from tandem.lab.topology import LabSpec
from tandem.system.run import run

MARK = "TANDEM_LAB"


def lab_processes(name: str) -> list[int]:
    """Live (non-zombie) processes started by the lab `name`, other than this one."""
    marker = f"{MARK}={name}".encode()
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = (entry / "environ").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if marker in environ.split(b"\0") and stat.rsplit(")", 1)[1].split()[0] != "Z":
            found.append(int(entry.name))
    return found


def host_links(spec: LabSpec) -> list[str]:
    out = run(["ip", "-j", "link", "show"], check=False).stdout or "[]"
    return [link["ifname"] for link in json.loads(out) if link["ifname"].startswith(spec.name)]


def _attached_loops() -> list[dict[str, str]]:
    out = run(
        ["losetup", "-J", "-l", "-O", "NAME,BACK-FILE,BACK-INO,BACK-MAJ:MIN"], check=False
    ).stdout
    devices = json.loads(out or '{"loopdevices": []}').get("loopdevices", [])
    # losetup pads some columns even in JSON ("     254:0  "); keep plain strings.
    return [{k: str(v if v is not None else "").strip() for k, v in d.items()} for d in devices]


def _device_of(name: str) -> str | None:
    try:
        rdev = Path(name).stat().st_rdev
    except OSError:
        return None
    return f"{os.major(rdev)}:{os.minor(rdev)}"


def mount_devices(under: Path) -> set[str]:
    """The device numbers ("major:minor") of the mounts at or below `under`, such as a
    node's disk (tandem.lab.disk). A loop device backed by a file on one names the file by
    the node's path (/var/lib/tandem/...) and the inode is the disk's own, so only its
    backing device tells that it is the lab's; mountinfo still shows a dead mount's."""
    found = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == str(under) or fields[4].startswith(f"{under}/"):
            found.add(fields[2])
    return found


def volume_devices(pids: Collection[int]) -> set[str]:
    """The device numbers of the replicated volumes these processes see: a node's volume
    engine mounts its FUSE file in the node's own mount namespace, where the host cannot
    see it, and /vz's loop device is backed by that file. Read them before the kill: the
    mounts go with the namespace, the loop device keeps the number."""
    host = {line.split()[2] for line in Path("/proc/self/mountinfo").read_text().splitlines()}
    found = set()
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/mountinfo").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            left, _, right = line.partition(" - ")
            fields = right.split()
            device = left.split()[2]
            if len(fields) > 1 and fields[1].startswith("tandem-volume-") and device not in host:
                found.add(device)
    return found


def loops_under(prefix: Path, devices: Collection[str] = ()) -> list[str]:
    """Loop devices whose backing file lies under `prefix` or on one of `devices`
    (see mount_devices), innermost first.

    The kernel names a backing file by its path in the mount namespace that attached it:
    a loop device made inside a node (a container's disk image on the node's /vz) shows
    as "/vz/...", not as the lab path, and an image on a filesystem that is itself on a
    loop device is one level deeper still. So besides the path, a device counts as the
    lab's when its backing file is a file under `prefix` (same device and inode) or lies
    on a loop device that counts as the lab's.
    """
    loops = _attached_loops()
    owned: list[str] = []
    owned_devices: set[str] = set()

    def take(device: dict[str, str]) -> None:
        owned.append(device["name"])
        number = _device_of(device["name"])
        if number is not None:
            owned_devices.add(number)

    for device in loops:
        on_disk = device.get("back-maj:min") in devices
        if on_disk or device.get("back-file", "").startswith(str(prefix)):
            take(device)
    others = [d for d in loops if d["name"] not in owned]
    if others and prefix.exists():
        prefix_dev = prefix.stat().st_dev
        on_prefix_fs = f"{os.major(prefix_dev)}:{os.minor(prefix_dev)}"
        wanted = {
            int(d["back-ino"]): d
            for d in others
            if d.get("back-maj:min") == on_prefix_fs and d.get("back-ino", "").isdigit()
        }
        if wanted:
            for directory, _, files in os.walk(prefix):
                for name in files:
                    with contextlib.suppress(OSError):
                        st = (Path(directory) / name).lstat()
                        if st.st_dev == prefix_dev and st.st_ino in wanted:
                            take(wanted.pop(st.st_ino))
    changed = True
    while changed:
        changed = False
        for device in loops:
            if device["name"] not in owned and device.get("back-maj:min") in owned_devices:
                take(device)
                changed = True
    return list(reversed(owned))


def loop_devices(spec: LabSpec) -> list[str]:
    return loops_under(spec.root, mount_devices(spec.run_dir))


CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_DEPTH = 6


def lab_cgroups(spec: LabSpec, node: str | None = None) -> list[Path]:
    """cgroups of the lab's containers (of one node's, if given). cgroup v1 has no
    namespaces, so LXC in a node makes them in the host's hierarchies, named
    `tandem.<cluster>.<node>` (the lab's cluster is named after the lab); a crash leaves
    them behind, empty."""
    mark = f"tandem.{spec.name}." + (node or "")
    found: list[Path] = []
    if not CGROUP_ROOT.is_dir():
        return found
    for hierarchy in CGROUP_ROOT.iterdir():
        if not hierarchy.is_dir() or hierarchy.is_symlink():
            continue
        for directory, subdirs, _ in os.walk(hierarchy):
            here = Path(directory)
            if here.name == mark if node else here.name.startswith(mark):
                found.append(here)
                subdirs.clear()
            elif len(here.relative_to(hierarchy).parts) >= CGROUP_DEPTH:
                subdirs.clear()
    return found


def remove_cgroups(spec: LabSpec, node: str | None = None) -> list[str]:
    """Remove the lab's cgroups (or one node's), deepest first; a cgroup goes only when it
    is empty, so a running container's stay. A real crash takes them with the kernel."""
    removed = []
    for top in lab_cgroups(spec, node):
        for directory, _, _ in sorted(os.walk(top), key=lambda e: -len(Path(e[0]).parts)):
            with contextlib.suppress(OSError):
                Path(directory).rmdir()
                if directory == str(top):
                    removed.append(f"cgroup {top}")
    return removed


def host_mounts(spec: LabSpec) -> list[str]:
    marks = (str(spec.root), str(spec.run_dir))
    mounts = Path("/proc/mounts").read_text().splitlines()
    return [line.split()[1] for line in mounts if line.split()[1].startswith(marks)]


def leftovers(spec: LabSpec) -> list[str]:
    """A line per thing the lab `spec` left behind; empty when the host is clean."""
    found = [f"process {pid}" for pid in lab_processes(spec.name)]
    found += [f"link {name}" for name in host_links(spec)]
    found += [f"loop device {dev}" for dev in loop_devices(spec)]
    found += [f"cgroup {c}" for c in lab_cgroups(spec)]
    found += [f"mount {m}" for m in host_mounts(spec)]
    found += [f"directory {d}" for d in (spec.root, spec.run_dir) if d.exists()]
    return found


def detach_loops_under(prefix: Path, devices: Collection[str] = ()) -> list[str]:
    """Detach the loop devices backed by files under `prefix` or on `devices` (see
    loops_under)."""
    done = []
    for name in loops_under(prefix, devices):
        run(["losetup", "-d", name], check=False)
        done.append(name)
    return done


def sweep(spec: LabSpec, keep_dirs: bool = False, volumes: Collection[str] = ()) -> list[str]:
    """Remove every leftover of lab `spec`; returns what it removed. `volumes`: volume
    devices seen before the machines were stopped (see volume_devices)."""
    killed = lab_processes(spec.name)
    volumes = volume_devices(killed) | set(volumes)
    for pid in killed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while lab_processes(spec.name) and time.monotonic() < deadline:
        time.sleep(0.05)
    removed = [f"process {pid}" for pid in killed]
    for name in host_links(spec):
        run(["ip", "link", "del", name], check=False)
        removed.append(f"link {name}")
    disks = mount_devices(spec.run_dir)  # before the unmount: a loop may be on a disk
    for mount in sorted(host_mounts(spec), reverse=True):
        run(["umount", "-l", mount], check=False)
        removed.append(f"mount {mount}")
    removed += [f"loop device {d}" for d in detach_loops_under(spec.root, disks | volumes)]
    removed += remove_cgroups(spec)
    if not keep_dirs:
        for directory in (spec.root, spec.run_dir):
            if directory.exists():
                shutil.rmtree(directory, ignore_errors=True)
    return removed
