"""The service group's members, each a small resource agent with start, stop and monitor
(CM-1), in start order: the volume's Primary role, /vz, the drbdlinks, the containers
(whose start also announces their addresses with gratuitous ARP, CM-3).

Agents are blocking (they run commands and talk to the volume engine); the group runner
calls them in a thread with a timeout each. A monitor returns None when all is well, or
a sentence saying what is wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tandem import paths, rpc
from tandem.containers import links
from tandem.containers.host import load_links
from tandem.containers.layout import Layout
from tandem.containers.manager import Containers
from tandem.errors import TandemError
from tandem.replication.engine import attach
from tandem.system.run import run

VOLUME_SOCKET = paths.RUN_DIR / "volume.sock"


class Agent(Protocol):
    name: str
    start_timeout: float
    stop_timeout: float

    def start(self) -> str: ...
    def stop(self, fast: bool) -> str: ...
    def monitor(self) -> str | None: ...


@dataclass
class VolumeAgent:
    """The replica's Primary role; promotion refuses stale data by itself (DR-3)."""

    socket: Path = VOLUME_SOCKET
    confirmed: bool = False
    name: str = "volume"
    start_timeout: float = 15.0
    stop_timeout: float = 15.0

    def start(self) -> str:
        info = rpc.call(self.socket, "primary", confirmed=self.confirmed)
        return f"Primary, data {info.get('disk')}"

    def stop(self, fast: bool) -> str:
        del fast
        rpc.call(self.socket, "secondary")
        return "Secondary"

    def monitor(self) -> str | None:
        try:
            info = rpc.call(self.socket, "status", timeout=5)
        except TandemError as exc:
            return f"the volume engine does not answer ({exc})"
        if info.get("role") != "Primary":
            return f"the volume is {info.get('role')}, not Primary"
        return None


@dataclass
class FilesystemAgent:
    """ext4 on the volume, checked and mounted at /vz (the journal replays at mount)."""

    target: Path = paths.VZ_DIR
    name: str = "filesystem"
    start_timeout: float = 600.0  # a real fsck of a large volume takes minutes
    stop_timeout: float = 30.0

    def start(self) -> str:
        record = attach.attach(self.target)
        return f"{record['loop']} mounted at {self.target}"

    def stop(self, fast: bool) -> str:
        if fast and attach.attached():
            # Whatever still holds /vz goes: the group must not stay half here.
            run(["fuser", "-km", str(self.target)], check=False, timeout=10)
            time.sleep(0.2)
        record = attach.detach()
        return f"{record['loop']} released" if record else "not attached"

    def monitor(self) -> str | None:
        record = attach.attached()
        if record is None:
            return "the volume is not attached"
        if not attach.mounted(record["mountpoint"]):
            return f"{record['mountpoint']} is not mounted"
        return None


@dataclass
class LinksAgent:
    """drbdlinks (DR-9): files outside /vz that follow the active node."""

    layout: Layout = field(default_factory=Layout)
    name: str = "links"
    start_timeout: float = 30.0
    stop_timeout: float = 30.0

    def start(self) -> str:
        found = links.up(self.layout, load_links())
        return f"{len(found)} link(s) up"

    def stop(self, fast: bool) -> str:
        del fast
        found = links.down(self.layout, load_links())
        return f"{len(found)} link(s) down"

    def monitor(self) -> str | None:
        bad = [
            str(link.path)
            for link in links.status(self.layout, load_links())
            if link.state not in ("up", "missing")
        ]
        return f"links not in place: {', '.join(bad)}" if bad else None


@dataclass
class ContainersAgent:
    """The containers marked onboot. A container that stopped by itself is restarted in
    place up to `restarts` times within `window` seconds; then the group moves (CM-2)."""

    restarts: int = 3
    window: float = 300.0
    make: Callable[[], Containers] = Containers
    name: str = "containers"
    start_timeout: float = 300.0
    stop_timeout: float = 120.0
    history: dict[int, list[float]] = field(default_factory=dict)
    on_restart: Callable[[int, str], None] | None = None

    def start(self) -> str:
        started = self.make().start_onboot()
        self.history.clear()
        return f"started {', '.join(map(str, started)) or 'none'}"

    def stop(self, fast: bool) -> str:
        ct = self.make()
        killed = []
        if fast:
            for veid in ct.layout.veids():
                if ct.lxc.state(veid) != "STOPPED":
                    ct.stop(veid, fast=True)
                    killed.append(veid)
        stopped = killed + ct.stop_all()  # stop_all also unmounts every container disk
        return f"stopped {', '.join(map(str, stopped)) or 'none'}"

    def monitor(self) -> str | None:
        ct = self.make()
        now = time.monotonic()
        for defn in ct.definitions():
            if not defn.onboot or ct.lxc.state(defn.veid) != "STOPPED":
                continue
            recent = [t for t in self.history.get(defn.veid, []) if now - t < self.window]
            if len(recent) >= self.restarts:
                return (
                    f"container {defn.veid} stopped {len(recent) + 1} times within "
                    f"{self.window:.0f} s"
                )
            recent.append(now)
            self.history[defn.veid] = recent
            try:
                ct.start(defn.veid)
                why = f"container {defn.veid} had stopped; restarted in place ({len(recent)})"
            except TandemError as exc:
                why = f"container {defn.veid} had stopped; restart failed: {exc}"
            if self.on_restart is not None:
                self.on_restart(defn.veid, why)
        return None
