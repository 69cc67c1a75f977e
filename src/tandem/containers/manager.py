"""Container operations (VE-1, VE-2): create, set, start, stop, restart, destroy, status,
list. The command line (`tandem ve`) and the web call these; they print nothing.

Every operation checks all of its input first and changes nothing when any of it is bad
(DESIGN invariant 6); an operation that fails half-way undoes what it did, so a container
is either made completely or not at all.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from tandem.containers import (
    actionlog,
    cgroups,
    definition,
    guestfiles,
    host,
    image,
    limits,
    locks,
    lxcconf,
    network,
    samples,
    templates,
    validate,
)
from tandem.containers.definition import Definition
from tandem.containers.errors import ContainerError, InvalidRequest
from tandem.containers.ids import parse_veid
from tandem.containers.layout import Layout
from tandem.containers.lxc import STOP_TIMEOUT, Lxc
from tandem.containers.samples import Resources
from tandem.containers.units import UNLIMITED, format_size, parse_count, parse_size
from tandem.fsutil import atomic_write

SIGNALS = {
    "busybox": lxcconf.Signals(halt="SIGUSR1", reboot="SIGTERM"),
    "systemd": lxcconf.Signals(halt="SIGRTMIN+3", reboot="SIGINT"),
    "sysvinit": lxcconf.Signals(halt="SIGPWR", reboot="SIGINT"),
}
REPAIR_MARK = "repair.mode"


@dataclass(frozen=True)
class Changes:
    """What `ve set` may change; None (or empty) leaves a setting as it is."""

    onboot: bool | None = None
    hostname: str | None = None
    ipadd: tuple[str, ...] = ()
    ipdel: tuple[str, ...] = ()  # "all" removes every address
    nameservers: tuple[str, ...] | None = None  # replaces the list
    searchdomains: tuple[str, ...] | None = None
    memory: str | None = None
    numproc: str | None = None
    cpuunits: str | None = None
    cpulimit: str | None = None
    diskspace: str | None = None
    diskinodes: str | None = None

    def empty(self) -> bool:
        return self == Changes()


@dataclass(frozen=True)
class Info:
    """One line of `ve list`: what vzlist showed."""

    veid: int
    state: str  # running, stopped, mounted, frozen, repair
    nproc: int | None
    addresses: tuple[IPv4Address, ...]
    hostname: str
    onboot: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "veid": self.veid,
            "status": self.state,
            "nproc": self.nproc,
            "ip_addr": [str(a) for a in self.addresses],
            "hostname": self.hostname,
            "onboot": self.onboot,
        }


@dataclass(frozen=True)
class Status:
    info: Info
    definition: Definition
    usage: cgroups.Usage | None
    counters: cgroups.Counters | None
    disk: image.DiskUsage | None
    limit_events: list[actionlog.Entry] = field(default_factory=list)
    new_limit_events: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = self.definition
        return {
            **self.info.to_dict(),
            "ostemplate": d.ostemplate,
            "sample": d.sample,
            "nameservers": [str(a) for a in d.nameservers],
            "searchdomains": list(d.searchdomains),
            "limits": d.resources.to_values(),
            "usage": None if self.usage is None else vars(self.usage),
            "limit_hits": None if self.counters is None else vars(self.counters),
            "disk": None if self.disk is None else vars(self.disk),
            "limit_events": [e.to_dict() for e in self.limit_events],
        }


class Containers:
    """The containers on this node's /vz."""

    def __init__(self, layout: Layout | None = None, facts: host.NodeFacts | None = None) -> None:
        self.layout = layout or Layout()
        self._facts = facts
        self.lxc = Lxc(self.layout.lxcpath)
        self._cgroups: cgroups.CgroupSystem | None = None

    # --- shared helpers ------------------------------------------------------------

    @property
    def facts(self) -> host.NodeFacts:
        if self._facts is None:
            self._facts = host.load()
        return self._facts

    @property
    def cgroup_system(self) -> cgroups.CgroupSystem:
        if self._cgroups is None:
            self._cgroups = cgroups.detect()
        return self._cgroups

    def ready(self) -> None:
        """/vz mounted, its folders there, the shipped samples installed."""
        self.layout.require_mounted()
        self.layout.ensure()
        samples.install(self.layout.samples)

    def log(self, veid: int, kind: str, message: str) -> None:
        actionlog.append(self.layout.actions(veid), self.facts.hostname, kind, message)

    def exists(self, veid: int) -> bool:
        return self.layout.ve_dir(veid).exists()

    def definition(self, veid: int | str) -> Definition:
        number = parse_veid(veid)
        path = self.layout.definition(number)
        if not path.is_file():
            raise InvalidRequest(
                f"container {number} does not exist; `tandem ve list -a` shows the containers"
            )
        return definition.load(path)

    def definitions(self) -> list[Definition]:
        return [definition.load(self.layout.definition(v)) for v in self.layout.veids()]

    def state(self, veid: int) -> str:
        lxc_state = self.lxc.state(veid)
        if lxc_state in ("RUNNING", "STARTING", "STOPPING"):
            return "repair" if self.in_repair(veid) else "running"
        if lxc_state in ("FROZEN", "FREEZING"):
            return "frozen"
        return "mounted" if image.is_mounted(self.layout.rootfs(veid)) else "stopped"

    def in_repair(self, veid: int) -> bool:
        return (self.layout.ve_dir(veid) / REPAIR_MARK).exists()

    def require_running(self, veid: int) -> int:
        """The init pid of a running container, or a refusal saying how to start it."""
        pid = self.lxc.init_pid(veid)
        if pid is None:
            raise ContainerError(
                f"container {veid} is not running; start it with `tandem ve start {veid}`"
            )
        return pid

    def require_stopped(self, veid: int, doing: str) -> None:
        if self.lxc.state(veid) != "STOPPED":
            raise ContainerError(
                f"container {veid} is running; stop it with `tandem ve stop {veid}` before "
                f"you {doing}"
            )

    def _used_addresses(self, besides: int | None = None) -> dict[IPv4Address, int]:
        used = {}
        for defn in self.definitions():
            if defn.veid != besides:
                for address in defn.addresses:
                    used[address] = defn.veid
        return used

    def check_addresses(
        self, texts: Sequence[str], besides: int | None = None, probe: bool = True
    ) -> tuple[IPv4Address, ...]:
        """Addresses on the external network that neither the cluster, another container
        nor anything else on the wire holds."""
        facts = self.facts
        used = self._used_addresses(besides)
        found: list[IPv4Address] = []
        for text in texts:
            address = validate.container_address(text, facts.network, facts.reserved)
            if address in used:
                raise InvalidRequest(
                    f"address {address} is in use by container {used[address]}; give a free "
                    f"address of {facts.network}"
                )
            if address in found:
                raise InvalidRequest(f"address {address} is given twice; give it once")
            found.append(address)
        if probe and found:
            interface = network.external_interface(facts.external)
            for address in found:
                holder = network.in_use_on_wire(address, interface)
                if holder is not None:
                    raise InvalidRequest(
                        f"address {address} is in use on the external network (answered by "
                        f"{holder}); give a free address of {facts.network}"
                    )
        return tuple(found)

    # --- create --------------------------------------------------------------------

    def create(
        self,
        veid: int | str,
        ostemplate: str,
        sample: str,
        hostname: str | None = None,
        addresses: Sequence[str] = (),
        nameservers: Sequence[str] | None = None,
        searchdomains: Sequence[str] | None = None,
        onboot: bool = False,
    ) -> Definition:
        """A new, stopped container from a cached template with a sample's limits."""
        number = parse_veid(veid)
        name = validate.hostname(hostname or f"ve{number}")
        self.ready()
        chosen = samples.load(self.layout.samples, sample)
        servers = tuple(validate.ipv4(a, "name server") for a in nameservers or ())
        domains = tuple(validate.domain(d) for d in searchdomains or ())
        templates.require(self.layout, ostemplate)
        with locks.registry():
            if self.exists(number):
                raise InvalidRequest(
                    f"container ID {number} is in use; choose another ID or destroy "
                    f"container {number} first"
                )
            addrs = self.check_addresses(addresses)
            resources = chosen.resolve(_available(self.layout.root))
            template = templates.get(self.layout, ostemplate)
            defn = Definition(
                veid=number,
                hostname=name,
                ostemplate=template.name,
                sample=chosen.name,
                resources=resources,
                onboot=onboot,
                addresses=addrs,
                nameservers=servers if nameservers is not None else self.facts.nameservers,
                searchdomains=domains if searchdomains is not None else self.facts.searchdomains,
                created=actionlog.now(),
            )
            with locks.container(number):
                self._make(defn)
        self.log(
            number,
            "create",
            f"created from template {template.name} with sample {chosen.name} "
            f"({resources.summary()})",
        )
        return defn

    def _make(self, defn: Definition) -> None:
        veid = defn.veid
        folder = self.layout.ve_dir(veid)
        folder.mkdir(parents=True)
        try:
            image.create(
                self.layout.image(veid),
                defn.resources.diskspace,
                defn.resources.diskinodes,
                f"ve{veid}",
            )
            with self.mounted(veid) as root:
                templates.extract(self.layout, defn.ostemplate, root)
                guestfiles.configure(root, defn)
                # So that lxc-ls and friends know it before its first start.
                self.write_runtime(defn, root, self.external_interface())
            definition.save(self.layout.definition(veid), defn)
        except BaseException:
            image.umount(self.layout.rootfs(veid))
            templates.remove_tree(folder)
            raise

    @contextlib.contextmanager
    def mounted(self, veid: int) -> Iterator[Path]:
        """The container's disk mounted for the duration (left as it was found)."""
        target = self.layout.rootfs(veid)
        was = image.is_mounted(target)
        image.mount(self.layout.image(veid), target)
        try:
            yield target
        finally:
            if not was and self.lxc.state(veid) == "STOPPED":
                image.umount(target)

    # --- start, stop ----------------------------------------------------------------

    def start(self, veid: int | str, wait_lock: float = 30.0) -> float:
        """Start a stopped container; returns the seconds it took."""
        defn = self.definition(veid)
        number = defn.veid
        self.ready()
        with locks.container(number, wait_lock):
            if self.in_repair(number):
                raise ContainerError(
                    f"container {number} is in repair mode; finish it with "
                    f"`tandem ve repair stop {number}` first"
                )
            if self.lxc.state(number) != "STOPPED":
                raise ContainerError(f"container {number} is running already")
            started = time.monotonic()
            self.boot(defn, repair=False)
            seconds = time.monotonic() - started
        addresses = ", ".join(str(a) for a in defn.addresses) or "no address"
        self.log(
            number, "start", f"started on {self.facts.hostname} ({addresses}) in {seconds:.1f} s"
        )
        return seconds

    def boot(self, defn: Definition, repair: bool) -> None:
        """Start the container; the caller holds its lock and knows it is stopped."""
        veid = defn.veid
        rootfs = self.layout.rootfs(veid)
        cgroups.remove_stale(self.cgroup_system, self.facts.cgroup_group, veid)
        was_mounted = image.is_mounted(rootfs)
        image.mount(self.layout.image(veid), rootfs)
        try:
            start_root = self.layout.rescue(veid) if repair else rootfs
            guestfiles.configure(start_root, defn)
            interface = None
            if defn.addresses:
                interface = network.external_interface(self.facts.external)
                network.enable_forwarding()
            self.write_runtime(defn, start_root, interface, repair)
            self.lxc.start(veid, self.layout.lxc_log(veid))
        except BaseException:
            if not was_mounted and self.lxc.state(veid) == "STOPPED":
                image.umount(rootfs)
            raise
        if interface is not None:
            for address in defn.addresses:
                network.announce(address, interface)
        limits.save(
            self.layout.limits_state(veid),
            limits.Snapshot(self._run_id(veid), cgroups.Counters()),
        )

    def write_runtime(
        self,
        defn: Definition,
        start_root: Path,
        interface: str | None,
        repair: bool = False,
    ) -> None:
        """The generated LXC config and network hook for this node."""
        veid = defn.veid
        signals = SIGNALS[guestfiles.init_program(start_root)]
        seccomp = lxcconf.SECCOMP if lxcconf.SECCOMP.is_file() else None
        config = lxcconf.render(
            defn, self.facts, self.cgroup_system, self.layout, signals, repair, seccomp
        )
        atomic_write(self.layout.lxc_config(veid), config)
        hook = lxcconf.render_hook(veid, defn.addresses, interface or "eth0")
        atomic_write(self.layout.hook(veid), hook, mode=0o755)

    def external_interface(self) -> str | None:
        """This node's external interface, or None while it has none."""
        try:
            return network.external_interface(self.facts.external)
        except ContainerError:
            return None

    def _run_id(self, veid: int) -> str:
        pid = self.lxc.init_pid(veid)
        if pid is None:
            return "stopped"
        try:
            start_time = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        except (OSError, IndexError):
            start_time = "?"
        return f"{pid}:{start_time}"

    def stop(self, veid: int | str, fast: bool = False, wait_lock: float = 30.0) -> float:
        """Halt the container's init (killing what is left after 30 s, or at once with
        `fast`) and unmount its disk."""
        defn = self.definition(veid)
        number = defn.veid
        with locks.container(number, wait_lock):
            if self.lxc.state(number) == "STOPPED":
                image.umount(self.layout.rootfs(number))
                raise ContainerError(f"container {number} is not running")
            self.observe(defn)
            seconds = self.lxc.stop(number, 0 if fast else STOP_TIMEOUT)
            image.umount(self.layout.rootfs(number))
        self.log(number, "stop", f"stopped{' (killed)' if fast else ''} in {seconds:.1f} s")
        return seconds

    def restart(self, veid: int | str) -> float:
        number = self.definition(veid).veid
        started = time.monotonic()
        if self.lxc.state(number) != "STOPPED":
            self.stop(number)
        self.start(number)
        return time.monotonic() - started

    def stop_all(self) -> list[int]:
        """Every running container stopped and every disk unmounted, so /vz can be
        unmounted (the service group's way down, CM-2)."""
        stopped = []
        for veid in self.layout.veids():
            if self.lxc.state(veid) != "STOPPED":
                self.stop(veid)
                stopped.append(veid)
            image.umount(self.layout.rootfs(veid))
        return stopped

    def start_onboot(self) -> list[int]:
        """Start the containers marked `--onboot yes` (the service group's way up)."""
        started = []
        for defn in self.definitions():
            if defn.onboot and self.lxc.state(defn.veid) == "STOPPED":
                self.start(defn.veid)
                started.append(defn.veid)
        return started

    # --- destroy ------------------------------------------------------------------

    def destroy(self, veid: int | str) -> None:
        """Remove a stopped container and everything of it (its disk, logs, definition)."""
        number = parse_veid(veid)
        if not self.exists(number):
            raise InvalidRequest(f"container {number} does not exist; nothing to destroy")
        with locks.registry(), locks.container(number):
            self.require_stopped(number, "destroy it")
            image.umount(self.layout.rootfs(number))
            templates.remove_tree(self.layout.ve_dir(number))
            cgroups.remove_stale(self.cgroup_system, self.facts.cgroup_group, number)

    # --- set ------------------------------------------------------------------------

    def set(self, veid: int | str, changes: Changes, save: bool) -> list[str]:
        """Change settings: applied at once to a running container, kept with `save`.
        Returns sentences saying what was done."""
        defn = self.definition(veid)
        number = defn.veid
        if changes.empty():
            raise InvalidRequest("nothing to set; give at least one option, e.g. --onboot yes")
        with locks.registry(), locks.container(number):
            running = self.lxc.state(number) != "STOPPED"
            if not save and not running:
                raise InvalidRequest(
                    f"container {number} is stopped, so a change without --save would be lost; "
                    "add --save"
                )
            now = defn
            if running:
                now = replace(defn, addresses=network.live_addresses(self.require_running(number)))
            new, saved = self._changed(defn, now, changes)
            if new == now and saved == defn:
                return ["nothing changed: the container has these settings already"]
            if new.resources.diskinodes != defn.resources.diskinodes:
                raise InvalidRequest(
                    "the inode limit of a disk is fixed when the disk is made; back the "
                    "container up, destroy it and restore it with --diskinodes"
                )
            if new.resources.diskspace < defn.resources.diskspace and running:
                raise InvalidRequest(
                    f"a disk can only shrink while its container is stopped; stop container "
                    f"{number} first"
                )
            done = []
            if running:
                limits = any(
                    v is not None
                    for v in (changes.memory, changes.numproc, changes.cpuunits, changes.cpulimit,
                              changes.diskspace)
                )  # fmt: skip
                done += self._apply_live(now, new, limits)
            elif new.resources.diskspace != defn.resources.diskspace:
                image.resize(
                    self.layout.image(number), self.layout.rootfs(number), new.resources.diskspace
                )
            if save:
                definition.save(self.layout.definition(number), saved)
                done.append(f"saved parameters for container {number}")
        self.log(number, "set", "; ".join(done))
        return done

    def _changed(
        self, defn: Definition, now: Definition, c: Changes
    ) -> tuple[Definition, Definition]:
        """`c` applied to the running state `now` and to the saved definition `defn`
        (they differ in the addresses a change without --save added or removed). Every
        value is checked here; nothing is done."""
        removed = {validate.ipv4(t) for t in c.ipdel if t != "all"}
        for address in sorted(removed):
            if address not in now.addresses:
                raise InvalidRequest(
                    f"container {defn.veid} has no address {address}; it has "
                    f"{', '.join(str(a) for a in now.addresses) or 'none'}"
                )
        wanted = [validate.ipv4(t) for t in c.ipadd]
        for address in wanted:
            if address in now.addresses and address in defn.addresses and address not in removed:
                raise InvalidRequest(f"container {defn.veid} has address {address} already")
        self.check_addresses([str(a) for a in wanted if a not in now.addresses], besides=defn.veid)

        def apply(addresses: tuple[IPv4Address, ...]) -> tuple[IPv4Address, ...]:
            kept = [] if "all" in c.ipdel else [a for a in addresses if a not in removed]
            return tuple(kept + [a for a in wanted if a not in kept])

        r = defn.resources
        resources = Resources(
            memory=_size_or_none(c.memory, "--memory", r.memory, samples.MIN_MEMORY),
            numproc=_count_or_none(c.numproc, "--numproc", r.numproc, 8, 4_194_304),
            cpuunits=(
                r.cpuunits
                if c.cpuunits is None
                else parse_count(c.cpuunits, "--cpuunits", *samples.CPUUNITS_RANGE)
            ),
            cpulimit=(
                r.cpulimit
                if c.cpulimit is None
                else parse_count(c.cpulimit, "--cpulimit", 0, samples.CPULIMIT_MAX) or None
            ),
            diskspace=r.diskspace if c.diskspace is None else _disk(c.diskspace),
            diskinodes=_count_or_none(c.diskinodes, "--diskinodes", r.diskinodes, 1024, 2**32 - 1),
        )
        saved = replace(
            defn,
            onboot=defn.onboot if c.onboot is None else c.onboot,
            hostname=defn.hostname if c.hostname is None else validate.hostname(c.hostname),
            addresses=apply(defn.addresses),
            nameservers=(
                defn.nameservers
                if c.nameservers is None
                else tuple(validate.ipv4(a, "name server") for a in c.nameservers)
            ),
            searchdomains=(
                defn.searchdomains
                if c.searchdomains is None
                else tuple(validate.domain(d) for d in c.searchdomains)
            ),
            resources=resources,
        )
        return replace(saved, addresses=apply(now.addresses)), saved

    def _apply_live(self, old: Definition, new: Definition, limits: bool) -> list[str]:
        """Change a running container without a restart; undone if a step fails."""
        veid = old.veid
        pid = self.require_running(veid)
        done: list[str] = []
        undo: list[tuple[str, IPv4Address]] = []
        added = [a for a in new.addresses if a not in old.addresses]
        removed = [a for a in old.addresses if a not in new.addresses]
        interface = network.external_interface(self.facts.external) if added or removed else None
        if added and not old.addresses:
            raise ContainerError(
                f"container {veid} was started without a network; add the address with "
                f"--save and restart it"
            )
        try:
            for address in added:
                assert interface is not None
                network.add_live(pid, veid, address, interface)
                undo.append(("add", address))
                done.append(f"added address {address}")
            for address in removed:
                assert interface is not None
                network.remove_live(pid, veid, address, interface)
                undo.append(("del", address))
                done.append(f"removed address {address}")
        except BaseException:
            for action, address in reversed(undo):
                assert interface is not None
                if action == "add":
                    network.remove_live(pid, veid, address, interface)
                else:
                    network.add_live(pid, veid, address, interface)
            raise
        if added or removed:
            lxcconf_hook = lxcconf.render_hook(veid, new.addresses, interface or "eth0")
            atomic_write(self.layout.hook(veid), lxcconf_hook, mode=0o755)
        root = Path(f"/proc/{pid}/root")
        if (new.hostname, new.nameservers, new.searchdomains, new.addresses[:1]) != (
            old.hostname,
            old.nameservers,
            old.searchdomains,
            old.addresses[:1],
        ):
            guestfiles.configure(root, new)
        if new.hostname != old.hostname:
            self._attach_quiet(veid, ["hostname", new.hostname])
            done.append(f"host name set to {new.hostname}")
        if (new.nameservers, new.searchdomains) != (old.nameservers, old.searchdomains):
            done.append("resolv.conf was modified")
        if limits:
            done += self._apply_limits(veid, pid, old.resources, new.resources)
        return done

    def _apply_limits(self, veid: int, pid: int, old: Resources, new: Resources) -> list[str]:
        done = []
        if new.diskspace != old.diskspace:  # first: the one step that can be refused
            image.resize(self.layout.image(veid), self.layout.rootfs(veid), new.diskspace)
            done.append(f"disk resized to {format_size(new.diskspace)}")
        where = cgroups.of_process(self.cgroup_system, pid, veid)
        cgroups.apply_limits(self.cgroup_system, where, new)
        return [f"limits applied: {new.summary()}", *done]

    def _attach_quiet(self, veid: int, command: list[str]) -> None:
        from tandem.system.run import run

        run(self.lxc.attach_argv(veid, command), timeout=30)

    # --- looking ---------------------------------------------------------------------

    def observe(
        self, defn: Definition
    ) -> tuple[cgroups.Usage | None, cgroups.Counters | None, image.DiskUsage | None, list[str]]:
        """Usage and limit hits now; new limit hits go to the action log."""
        veid = defn.veid
        pid = self.lxc.init_pid(veid)
        disk = None
        with contextlib.suppress(Exception):
            disk = image.usage(self.layout.image(veid), self.layout.rootfs(veid))
        if pid is None:
            return None, None, disk, []
        try:
            where = cgroups.of_process(self.cgroup_system, pid, veid)
        except OSError:
            return None, None, disk, []
        use = cgroups.usage(self.cgroup_system, where)
        counts = cgroups.counters(self.cgroup_system, where)
        found = limits.record(
            self.layout.limits_state(veid),
            self.layout.actions(veid),
            self.facts.hostname,
            self._run_id(veid),
            counts,
            defn.resources,
            disk,
        )
        return use, counts, disk, found

    def info(self, defn: Definition) -> Info:
        state = self.state(defn.veid)
        nproc = None
        if state in ("running", "repair", "frozen"):
            pid = self.lxc.init_pid(defn.veid)
            if pid is not None:
                with contextlib.suppress(OSError):
                    use = cgroups.usage(
                        self.cgroup_system, cgroups.of_process(self.cgroup_system, pid, defn.veid)
                    )
                    nproc = use.tasks
        return Info(defn.veid, state, nproc, defn.addresses, defn.hostname, defn.onboot)

    def status(self, veid: int | str) -> Status:
        defn = self.definition(veid)
        use, counts, disk, found = self.observe(defn)
        events = [e for e in actionlog.read(self.layout.actions(defn.veid)) if e.kind == "limit"]
        return Status(self.info(defn), defn, use, counts, disk, events[-10:], found)

    def listing(self, include_stopped: bool = False) -> list[Info]:
        self.layout.require_mounted()
        found = []
        for defn in self.definitions():
            info = self.info(defn)
            if include_stopped or info.state in ("running", "repair", "frozen"):
                found.append(info)
        return found

    def exec_argv(
        self, veid: int | str, command: list[str], env: dict[str, str] | None = None
    ) -> list[str]:
        number = self.definition(veid).veid
        self.require_running(number)
        return self.lxc.attach_argv(number, command, env)


def _available(root: Path) -> int:
    st = os.statvfs(root)
    return st.f_bavail * st.f_frsize


def _disk(text: str) -> int:
    size = parse_size(text, "--diskspace")
    if size < samples.MIN_DISK:
        raise InvalidRequest(f"--diskspace {text} is too small; give 16M or more")
    return size


def _size_or_none(text: str | None, what: str, current: int | None, minimum: int) -> int | None:
    if text is None:
        return current
    if text.strip().lower() == UNLIMITED:
        return None
    size = parse_size(text, what)
    if size < minimum:
        raise InvalidRequest(f"{what} {text} is too small; give at least {minimum // 1024**2}M")
    return size


def _count_or_none(
    text: str | None, what: str, current: int | None, low: int, high: int
) -> int | None:
    if text is None:
        return current
    if text.strip().lower() == UNLIMITED:
        return None
    return parse_count(text, what, low, high)
