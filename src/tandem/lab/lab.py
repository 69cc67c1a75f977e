"""The lab's life cycle: up, boot, crash, power cut, cut, heal, disk faults, status, down
(LAB-1, LAB-2).

The keeper holds the machines' power and the serial cable; this module wires the network,
remembers the cuts, and cleans up. Every command leaves the lab either as it was or in the
new state; a failed `up` takes down whatever it had started.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from tandem.errors import LabError
from tandem.lab import disks, wiring
from tandem.lab.keeper_client import KeeperClient
from tandem.lab.state import LabState
from tandem.lab.sweep import (
    MARK,
    detach_loops_under,
    lab_processes,
    leftovers,
    mount_devices,
    remove_cgroups,
    sweep,
    volume_devices,
)
from tandem.lab.topology import (
    MACHINES,
    NODES,
    PATHS,
    SERIAL_DEVICE,
    LabSpec,
    MachineName,
    PathName,
)
from tandem.system.run import in_netns, run

DEMO_SUBNET = "10.77.0.0/24"
KEEPER_START_TIMEOUT = 10.0


def default_lab_name() -> str:
    return os.environ.get("TANDEM_LAB_NAME", "tandem")


def default_subnet(name: str) -> IPv4Network:
    """10.77.0.0/24 for the demo lab; another lab gets 10.X.0.0/24 with X from its name,
    so that the demo, the test suite and a developer's second lab can be up together."""
    if name == "tandem":
        return IPv4Network(DEMO_SUBNET)
    return IPv4Network(f"10.{100 + zlib.crc32(name.encode()) % 100}.0.0/24")


@dataclass(frozen=True)
class InstallOptions:
    """How the lab installs the cluster: the defaults are the recommended setup."""

    witness: bool = True  # the router runs the witness (HB-6)
    external_heartbeat: bool = True  # HB-1: may be switched off by policy (seed 5.1.1)
    serial_heartbeat: bool = True  # HB-1: off when the nodes stand in different rooms
    profile: str = "fast"  # HB-2 timing profile


@dataclass
class UpResult:
    lab: Lab
    already: bool
    seconds: float
    cleaned: list[str] = field(default_factory=list)


@dataclass
class DownResult:
    seconds: float
    removed: list[str]


class Lab:
    def __init__(self, state: LabState) -> None:
        self.state = state
        self.spec = state.spec
        self.keeper = KeeperClient(self.spec.keeper_socket)

    # --- opening and creating --------------------------------------------------------

    @classmethod
    def open(cls, name: str | None = None) -> Lab:
        name = name or default_lab_name()
        state = LabState.load(name)
        if state is None or not KeeperClient(state.spec.keeper_socket).alive():
            raise LabError(f"lab {name!r} is not up; start it with `tandem lab up`")
        return cls(state)

    @classmethod
    def up(
        cls,
        name: str | None = None,
        subnet: IPv4Network | None = None,
        options: InstallOptions | None = None,
    ) -> UpResult:
        options = options or InstallOptions()
        name = name or default_lab_name()
        started = time.monotonic()
        existing = LabState.load(name)
        if existing is not None and KeeperClient(existing.spec.keeper_socket).alive():
            return UpResult(cls(existing), already=True, seconds=0.0)
        spec = LabSpec(name, subnet or default_subnet(name))
        cleaned = sweep(spec) if existing is not None or leftovers(spec) else []
        _check_subnet_free(spec)
        state = LabState(
            name=name,
            subnet=str(spec.subnet),
            created=time.time(),
            admin_password=_new_password(),
            profile=options.profile,
        )
        try:
            _prepare_disks(spec, state.admin_password, options)
            state.save()
            state.keeper_pid = _start_keeper(spec)
            state.save()
            lab = cls(state)
            disks.start(spec, lab.keeper, list(NODES))  # a node binds its disk at boot
            for machine in MACHINES:
                lab._power_on(machine)
        except BaseException:
            sweep(spec)
            raise
        return UpResult(lab, already=False, seconds=time.monotonic() - started, cleaned=cleaned)

    @staticmethod
    def down(name: str | None = None) -> DownResult:
        """Stop every machine (gracefully first), then remove every trace of the lab."""
        name = name or default_lab_name()
        started = time.monotonic()
        state = LabState.load(name)
        spec = state.spec if state is not None else LabSpec(name, default_subnet(name))
        keeper = KeeperClient(spec.keeper_socket, timeout=30)
        volumes = volume_devices(lab_processes(name))  # inside the nodes: see before they go
        # No keeper, or a broken one: the sweep below finds what it left.
        with contextlib.suppress(LabError):
            keeper.call("shutdown", timeout=5)
        removed = sweep(spec, volumes=volumes)
        return DownResult(time.monotonic() - started, removed)

    # --- machines --------------------------------------------------------------------

    def _power_on(self, machine: MachineName) -> None:
        status = self.keeper.call("status")
        argv = [sys.executable, "-m", "tandem.lab.nodeinit", "--spec", json.dumps(
            _machine_spec(self.spec, machine, status["serial"]["ptys"], self.state.profile)
        )]  # fmt: skip
        reply = self.keeper.call("spawn", machine=machine, argv=argv)
        self.state.machines[machine] = int(reply["pid"])
        self.state.save()
        if machine == "router":
            wiring.wire_router(self.spec, self.state.machines["router"])
        else:
            wiring.wire_node(self.spec, machine, self.state.machines, self.state.cuts)
        self.keeper.call("release", machine=machine)

    def running(self) -> dict[MachineName, int]:
        """Machines that are on, as the keeper sees them (it is their parent)."""
        machines = self.keeper.call("status")["machines"]
        return {m: int(v["pid"]) for m, v in machines.items() if v["state"] == "on"}

    def crash(self, node: MachineName) -> float:
        """Every process of the node killed at once, mounts gone with its namespace."""
        _require_node(node)
        if node not in self.running():
            raise LabError(f"{node} is off already; start it with `tandem lab boot {node}`")
        volumes = volume_devices([self.running()[node]])
        reply = self.keeper.call("kill", machine=node, hard=True)
        self.state.machines.pop(node, None)
        self.state.save()
        # Loop devices are global to the host and outlive the namespace that made them;
        # so do the cgroups of its containers (cgroup v1 has no namespaces).
        self._detach_loops(node, volumes)
        remove_cgroups(self.spec, node)
        # Not a power cut: the disk kept its power and writes back what it had accepted.
        with contextlib.suppress(LabError):  # a dead disk daemon is restarted at boot
            disks.order(self.spec, node, "writeback")
        return float(reply["seconds"])

    def power_cut(self, nodes: list[MachineName]) -> float:
        """The nodes lose power at once: killed as by crash (all together), then their
        disks lose every write they had not flushed. A node that is off already just
        loses its disk's cache."""
        for node in nodes:
            _require_node(node)
        started = time.monotonic()
        running = self.running()
        on = [n for n in dict.fromkeys(nodes) if n in running]
        volumes = volume_devices([running[n] for n in on])
        if on:
            with ThreadPoolExecutor(len(on)) as pool:
                list(pool.map(lambda n: self.keeper.call("kill", machine=n, hard=True), on))
        for node in dict.fromkeys(nodes):
            self.state.machines.pop(node, None)
            self._detach_loops(node, volumes)
            remove_cgroups(self.spec, node)
            disks.order(self.spec, node, "power_cut")
        self.state.save()
        return time.monotonic() - started

    def set_disk_failed(self, node: MachineName, failed: bool) -> dict[str, Any]:
        """Every read, write and fsync on the node's disk returns EIO, or works again."""
        _require_node(node)
        return disks.order(self.spec, node, "fail", failed=failed)

    def _detach_loops(self, node: MachineName, volumes: set[str]) -> None:
        """The node's loop devices: on its own files, on files on its disk, or on its
        replicated volume (/vz and the containers' images on it)."""
        disk = mount_devices(self.spec.disk_mount(node))
        detach_loops_under(self.spec.machine_dir(node), disk | volumes)

    def boot(self, node: MachineName) -> float:
        _require_node(node)
        if node in self.running():
            raise LabError(f"{node} is running; crash it first with `tandem lab crash {node}`")
        started = time.monotonic()
        self.state.machines.pop(node, None)
        # It may have gone off without `lab crash` (fenced by its peer through the keeper,
        # or shut down from inside): what a crash cleans up may still be there.
        self._detach_loops(node, set())
        remove_cgroups(self.spec, node)
        disks.ensure(self.spec, self.keeper, node)
        self._wait_unplugged(node)
        self._power_on(node)
        return time.monotonic() - started

    def _wait_unplugged(self, node: MachineName, timeout: float = 15.0) -> None:
        """The kernel removes a dead node's cable ends a little after its processes died
        (network namespaces are cleaned up in the background, slower when two die at
        once); plugging the node in again before that fails with "File exists"."""
        router = self.running().get("router")
        if router is None:
            return
        port = self.spec.router_port(node)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = run(in_netns(router, ["ip", "-j", "link", "show"]), check=False).stdout
            if port not in {link["ifname"] for link in json.loads(out or "[]")}:
                return
            time.sleep(0.01)
        # Something still holds the dead node's network namespace: pull the cable at the
        # router's end (a veth pair goes as a whole).
        gone = run(in_netns(router, ["ip", "link", "del", port]), check=False)
        if gone.returncode != 0 and "Cannot find device" not in gone.stderr:
            raise LabError(
                f"{node}'s old cable {port} is still plugged into the router "
                f"{timeout:.0f} s after it went off, and removing it failed: "
                f"{gone.stderr.strip()}; `tandem lab down` and up again"
            )

    # --- faults ------------------------------------------------------------------------

    def set_cut(self, node: MachineName, paths: list[PathName], cut: bool) -> float:
        """Cut or heal several paths of a node at once; returns when it took effect
        (wall-clock time, the same inside every node), for measuring detection times."""
        _require_node(node)
        for path in paths:
            if path not in PATHS:
                raise LabError(f"unknown path {path!r}; one of {', '.join(PATHS)}")
        cuts = set(self.state.cuts.get(node, []))
        cuts = cuts | set(paths) if cut else cuts - set(paths)
        self.state.cuts[node] = sorted(cuts)
        self.state.save()
        running = self.running()
        if "serial" in paths:
            line_cut = any("serial" in c for c in self.state.cuts.values())
            self.keeper.call("serial", cut=line_cut)
        at = time.time()
        if set(paths) - {"serial"}:
            wiring.apply_cuts(self.spec, running, self.state.cuts)
            at = time.time()
        return at

    # --- looking -----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        keeper = self.keeper.call("status")
        spec = self.spec
        machines: dict[str, Any] = {}
        for m in MACHINES:
            info = keeper["machines"].get(m, {})
            entry: dict[str, Any] = {
                "state": info.get("state", "off"),
                "pid": info.get("pid"),
                "hostname": m,
                "external": str(spec.router_ip if m == "router" else spec.external_ip(m)),
            }
            if m in NODES:
                entry["crossover"] = str(spec.crossover_ip(m))
                entry["paths"] = {
                    p: "cut" if p in self.state.cuts.get(m, []) else "up" for p in PATHS
                }
                entry["disk"] = disks.status(spec, m)
            machines[m] = entry
        return {
            "name": spec.name,
            "subnet": str(spec.subnet),
            "created": self.state.created,
            "keeper_pid": keeper["keeper"],
            "machines": machines,
            "admin": {"interface": spec.host_if, "address": str(spec.admin_ip)},
            "serial": {"device": str(SERIAL_DEVICE), **keeper["serial"]},
            "login": {"user": "admin", "password": self.state.admin_password},
        }

    def exec_argv(self, machine: MachineName, command: list[str]) -> list[str]:
        if machine not in MACHINES:
            raise LabError(f"unknown machine {machine!r}; one of {', '.join(MACHINES)}")
        pid = self.running().get(machine)
        if pid is None:
            raise LabError(f"{machine} is off; start it with `tandem lab boot {machine}`")
        return ["nsenter", "-t", str(pid), "-a", "--", *(command or ["bash"])]

    def exec_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env[MARK] = self.spec.name
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
        return env


def _require_node(node: str) -> None:
    if node not in NODES:
        raise LabError(f"unknown node {node!r}; one of {', '.join(NODES)}")


def _check_subnet_free(spec: LabSpec) -> None:
    routes = json.loads(run(["ip", "-j", "-4", "route", "show"]).stdout or "[]")
    for route in routes:
        dst = route.get("dst", "")
        if dst in ("", "default") or route.get("dev", "").startswith(spec.name):
            continue
        network = IPv4Network(dst if "/" in dst else f"{dst}/32", strict=False)
        if network.overlaps(spec.subnet):
            raise LabError(
                f"the lab's external network {spec.subnet} overlaps the host's route {dst} "
                f"on {route.get('dev')}; choose another with `tandem lab up --subnet`"
            )


def _new_password() -> str:
    from tandem.config.secrets import generate_password

    return generate_password()


def _prepare_disks(spec: LabSpec, admin_password: str, options: InstallOptions) -> None:
    """Install both nodes as an operator would: one `tandem init`, copied to each node."""
    # Imported here, not at the top: the configuration models and cryptography cost most
    # of a second, and `lab exec`, `lab cut` and `lab status` need none of them.
    from tandem.config.initialize import initialize

    spec.run_dir.mkdir(parents=True, exist_ok=True)
    spec.root.mkdir(parents=True, exist_ok=True)
    (spec.root / "hosts").write_text(spec.hosts_file())
    installer = spec.root / "install" / "etc-tandem"
    data: dict[str, Any] = {
        "cluster": {"name": spec.name},
        **{
            node: {
                "hostname": node,
                "crossover": str(spec.crossover_ip(node)),
                "external": str(spec.external_ip(node)),
            }
            for node in NODES
        },
        "network": {"netmask": str(spec.subnet.netmask), "gateway": str(spec.router_ip)},
        "heartbeat": {
            "profile": options.profile,
            "serial": {"device": str(SERIAL_DEVICE), "enabled": options.serial_heartbeat},
            "external": {"enabled": options.external_heartbeat},
        },
        "ping": {"nodes": [str(spec.router_ip)]},
        "quorum": {"witness": str(spec.router_ip)} if options.witness else {},
        "volume": {"size": "1GiB"},
        # The lab's power switch fences (HB-6, CM-2); the keeper is reachable from the nodes.
        "failover": {"fencing": "lab", "lab_keeper": str(spec.keeper_socket)},
    }
    initialize(installer, data, admin_password=admin_password, force=True)
    for node in NODES:
        target = spec.machine_dir(node) / "etc-tandem"
        shutil.copytree(installer, target, dirs_exist_ok=True)
    # The witness on the third host needs the cluster key and nothing else.
    witness_secrets = spec.machine_dir("router") / "etc-tandem" / "secrets"
    witness_secrets.mkdir(parents=True, exist_ok=True)
    witness_secrets.chmod(0o700)
    shutil.copy2(installer / "secrets" / "cluster.key", witness_secrets / "cluster.key")


def _machine_spec(
    spec: LabSpec, machine: MachineName, ptys: dict[str, str], profile: str
) -> dict[str, Any]:
    if machine == "router":
        from tandem.config.timing import PROFILES  # see _prepare_disks

        timing = PROFILES[profile]  # type: ignore[index]
        return {
            "hostname": "router",
            "binds": [
                [str(spec.root / "hosts"), "/etc/hosts"],
                [str(spec.machine_dir("router") / "etc-tandem"), "/etc/tandem"],
            ],
            # The router is the lab's third host: it runs the witness (HB-6).
            "payload": [
                sys.executable, "-m", "tandem", "witness", "run",
                "--listen", str(spec.router_ip),
                "--lease", str(timing.deadtime * 1.5), "--keepalive", str(timing.keepalive),
                # The router's own disk (its /var/lib is the host's).
                "--state", "/etc/tandem/witness-state.json",
            ],
            "log": str(spec.machine_dir("router") / "router.log"),
        }  # fmt: skip
    return {
        "hostname": machine,
        "binds": [[str(s), str(d)] for s, d in spec.node_binds(machine)],
        "serial": {"pty": ptys[machine], "device": str(SERIAL_DEVICE)},
        "payload": [sys.executable, "-m", "tandem", "node", "run"],
        "log": "/var/log/tandem/node.log",
    }


def _start_keeper(spec: LabSpec) -> int:
    spec.run_dir.mkdir(parents=True, exist_ok=True)
    log_fd = os.open(spec.run_dir / "keeper.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    try:
        pid = os.posix_spawn(
            sys.executable,
            [sys.executable, "-m", "tandem.lab.keeper", "--socket", str(spec.keeper_socket)],
            {**os.environ, MARK: spec.name},
            file_actions=[
                (os.POSIX_SPAWN_DUP2, null_fd, 0),
                (os.POSIX_SPAWN_DUP2, log_fd, 1),
                (os.POSIX_SPAWN_DUP2, log_fd, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(log_fd)
        os.close(null_fd)
    client = KeeperClient(spec.keeper_socket, timeout=2)
    deadline = time.monotonic() + KEEPER_START_TIMEOUT
    while time.monotonic() < deadline:
        if client.alive():
            return pid
        time.sleep(0.05)
    raise LabError(f"the lab keeper did not start; see {spec.run_dir / 'keeper.log'}")
