"""The Power Panel's functions for one container (VE-7, seed 5.1.3): its services, its
resource usage, repair mode and reinstallation. Start, stop, restart, backup, restore and
the action log are in manager.py, backup.py and actionlog.py; the web calls all of them.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tandem.containers import guestfiles, image, locks, templates
from tandem.containers.errors import ContainerError, InvalidRequest
from tandem.containers.manager import REPAIR_MARK, Containers
from tandem.system.run import run

SYSTEMCTL_LIST = [
    "systemctl", "list-units", "--type=service", "--all", "--no-legend", "--plain", "--no-pager",
]  # fmt: skip
SERVICE_NAME = re.compile(r"^[A-Za-z0-9@._:-]{1,128}$")
NOT_SERVICES = {"rcS", "rc", "rc.local", "functions", "README", "skeleton", "halt", "reboot"}
# One shell for the whole list of a sysvinit/busybox container: name, status exit code.
LIST_SCRIPT = (
    'for s in /etc/init.d/*; do n="${s##*/}"; [ -x "$s" ] && [ -f "$s" ] || continue; '
    'case "$n" in rcS|rc|rc.local|functions|README|skeleton|halt|reboot|*.sh) continue;; esac; '
    '"$s" status >/dev/null 2>&1; echo "$n $?"; done'
)


@dataclass(frozen=True)
class Service:
    name: str
    state: str  # running, stopped, failed, unknown
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def init_system(containers: Containers, veid: int) -> str:
    """systemd or sysvinit (busybox counts as sysvinit: it has /etc/init.d scripts)."""
    pid = containers.require_running(veid)
    exe = Path(f"/proc/{pid}/exe").readlink().name
    return "systemd" if exe == "systemd" else "sysvinit"


def services(containers: Containers, veid: int | str) -> list[Service]:
    """The container's services and whether each runs."""
    number = containers.definition(veid).veid
    kind = init_system(containers, number)
    if kind == "systemd":
        out = _attach(containers, number, SYSTEMCTL_LIST)
        found = []
        for line in out.splitlines():
            parts = line.split(None, 4)
            if len(parts) >= 4 and parts[0].endswith(".service"):
                state = {"active": "running", "inactive": "stopped", "failed": "failed"}.get(
                    parts[2], parts[2]
                )
                found.append(Service(parts[0].removesuffix(".service"), state, _at(parts, 4)))
        return found
    out = _attach(containers, number, ["/bin/sh", "-c", LIST_SCRIPT])
    found = []
    for line in out.splitlines():
        name, _, code = line.rpartition(" ")
        state = {"0": "running", "3": "stopped"}.get(code, "unknown")
        found.append(Service(name, state))
    return found


def _at(parts: list[str], index: int) -> str:
    return parts[index] if len(parts) > index else ""


def service_action(containers: Containers, veid: int | str, name: str, action: str) -> str:
    """start, stop or restart one service; returns what the service said."""
    number = containers.definition(veid).veid
    if action not in ("start", "stop", "restart"):
        raise InvalidRequest(f"unknown service action {action!r}; use start, stop or restart")
    if not SERVICE_NAME.match(name):
        raise InvalidRequest(f"{name!r} is not a service name")
    known = {s.name for s in services(containers, number)}
    if name not in known:
        raise InvalidRequest(
            f"container {number} has no service {name!r}; it has {', '.join(sorted(known))}"
        )
    if init_system(containers, number) == "systemd":
        command = ["systemctl", action, f"{name}.service"]
    else:
        command = [f"/etc/init.d/{name}", action]
    result = run(containers.lxc.attach_argv(number, command), check=False, timeout=120)
    said = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        containers.log(number, "service", f"{action} of {name} failed: {said}")
        raise ContainerError(f"{action} of service {name} in container {number} failed: {said}")
    containers.log(number, "service", f"{action} of {name}")
    return said or f"{name}: {action} done"


def _attach(containers: Containers, veid: int, command: list[str]) -> str:
    result = run(containers.lxc.attach_argv(veid, command), check=False, timeout=60)
    if result.returncode != 0 and not result.stdout:
        raise ContainerError(
            f"cannot list the services of container {veid}: {result.stderr.strip()}"
        )
    return result.stdout


# --- resource usage --------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceUsage:
    veid: int
    state: str
    cpu_seconds: float | None
    cpu_percent: float | None  # over the last second, of one CPU
    memory: int | None
    memory_limit: int | None
    tasks: int | None
    tasks_limit: int | None
    disk_used: int | None
    disk_total: int | None
    inodes_used: int | None
    inodes_total: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def usage(containers: Containers, veid: int | str, sample_seconds: float = 1.0) -> ResourceUsage:
    """CPU, memory, processes, disk and inodes (the Power Panel's resource monitor)."""
    defn = containers.definition(veid)
    first, _, disk, _ = containers.observe(defn)
    percent = None
    use = first
    if first is not None and first.cpu_seconds is not None and sample_seconds > 0:
        time.sleep(sample_seconds)
        use, _, disk, _ = containers.observe(defn)
        if use is not None and use.cpu_seconds is not None:
            percent = round(100 * (use.cpu_seconds - first.cpu_seconds) / sample_seconds, 1)
    return ResourceUsage(
        veid=defn.veid,
        state=containers.state(defn.veid),
        cpu_seconds=None if use is None else use.cpu_seconds,
        cpu_percent=percent,
        memory=None if use is None else use.memory,
        memory_limit=defn.resources.memory,
        tasks=None if use is None else use.tasks,
        tasks_limit=defn.resources.numproc,
        disk_used=None if disk is None else disk.used,
        disk_total=None if disk is None else disk.total,
        inodes_used=None if disk is None else disk.inodes_used,
        inodes_total=None if disk is None else disk.inodes_total,
    )


# --- repair mode -----------------------------------------------------------------------


def repair_start(containers: Containers, veid: int | str, fsck: bool = False) -> str:
    """Start a rescue system (busybox) in the container's place, with the container's own
    disk mounted at /repair inside it; `tandem ve enter` gets a shell there."""
    defn = containers.definition(veid)
    number = defn.veid
    containers.ready()
    layout = containers.layout
    with locks.container(number):
        if containers.in_repair(number):
            raise ContainerError(f"container {number} is in repair mode already")
        containers.require_stopped(number, "repair it")
        report = ""
        if fsck:
            image.umount(layout.rootfs(number))
            report = image.fsck(layout.image(number))
        template = templates.get(layout, "busybox")
        rescue = layout.rescue(number)
        templates.remove_tree(rescue)
        rescue.mkdir()
        marker = layout.ve_dir(number) / REPAIR_MARK
        try:
            templates.extract(layout, template.name, rescue)
            marker.write_text(f"repair mode since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
            containers.boot(defn, repair=True)
        except BaseException:
            marker.unlink(missing_ok=True)
            templates.remove_tree(rescue)
            raise
    containers.log(number, "repair", "repair mode started: rescue system with the disk at /repair")
    return report


def repair_stop(containers: Containers, veid: int | str) -> None:
    """Leave repair mode: the rescue system stops, the container stays stopped."""
    defn = containers.definition(veid)
    number = defn.veid
    layout = containers.layout
    with locks.container(number):
        if not containers.in_repair(number):
            raise ContainerError(f"container {number} is not in repair mode")
        if containers.lxc.state(number) != "STOPPED":
            containers.lxc.stop(number)
        image.umount(layout.rootfs(number))
        templates.remove_tree(layout.rescue(number))
        (layout.ve_dir(number) / REPAIR_MARK).unlink(missing_ok=True)
    containers.log(number, "repair", "repair mode ended")


# --- reinstall -------------------------------------------------------------------------

STAGING = ".tandem-reinstall"


def reinstall(containers: Containers, veid: int | str, wipe: bool = False) -> None:
    """A fresh system from the container's OS template. Without `wipe` the old files are
    kept under /old in the new system (as Virtuozzo's reinstall did); with `wipe` the disk
    is made anew. A running container is stopped first and started again afterwards."""
    defn = containers.definition(veid)
    number = defn.veid
    containers.ready()
    layout = containers.layout
    templates.get(layout, defn.ostemplate)
    if containers.in_repair(number):
        raise ContainerError(f"container {number} is in repair mode; end it first")
    was_running = containers.lxc.state(number) != "STOPPED"
    with locks.container(number):
        if was_running:
            containers.lxc.stop(number)
        image.umount(layout.rootfs(number))
        if wipe:
            fresh = layout.image(number).with_name("root.ext4.new")
            fresh.unlink(missing_ok=True)
            r = defn.resources
            image.create(fresh, r.diskspace, r.diskinodes, f"ve{number}")
            fresh.replace(layout.image(number))
            with containers.mounted(number) as root:
                templates.extract(layout, defn.ostemplate, root)
                guestfiles.configure(root, defn)
        else:
            with containers.mounted(number) as root:
                _reinstall_keeping(root, containers, defn.ostemplate)
                guestfiles.configure(root, defn)
        if was_running:
            containers.boot(defn, repair=False)
    how = "disk wiped" if wipe else "old files kept in /old"
    containers.log(number, "reinstall", f"reinstalled from template {defn.ostemplate} ({how})")


def _reinstall_keeping(root: Path, containers: Containers, template: str) -> None:
    staging = root / STAGING
    templates.remove_tree(staging)
    staging.mkdir()
    try:
        templates.extract(containers.layout, template, staging)
    except BaseException:
        templates.remove_tree(staging)
        raise
    old = staging / "old"
    if old.exists():
        templates.remove_tree(old)
    old.mkdir()
    for entry in list(root.iterdir()):
        if entry.name not in (STAGING, "lost+found"):
            entry.rename(old / entry.name)
    for entry in list(staging.iterdir()):
        entry.rename(root / entry.name)
    staging.rmdir()
