"""The cluster's status, collected once a second in the background (MG-2 Status).

Pages, the JSON API and the live stream all read the same snapshot, so twenty browsers
watching the Status page cost no more than one. Each source is asked over its own
interface: the node supervisor and membership over their Unix sockets, the other node
over the node-to-node API, the hardware through its tools (every 30 s; they are slow).
A source that does not answer is "not available" with the reason, never an error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tandem import rpc
from tandem.config import NodeId
from tandem.errors import TandemError
from tandem.web import hardware
from tandem.web.peer import PeerClient, PeerRefused, PeerUnreachable
from tandem.web.settings import WebSettings
from tandem.web.sync import Sync

HARDWARE_EVERY = 30.0
CONTAINERS_EVERY = 3.0


def ask(socket_path: Path, op: str = "status") -> dict[str, Any]:
    """A daemon's answer, or {"available": False, "reason": ...} if nothing answers."""
    try:
        reply = rpc.call(socket_path, op, timeout=1.0)
    except rpc.RpcUnavailable:
        return {"available": False, "reason": f"nothing answers on {socket_path}"}
    except (TandemError, ValueError) as exc:
        return {"available": False, "reason": str(exc)}
    return {"available": True, **reply}


class LocalStatus:
    """What this node knows about itself; also served to the peer."""

    def __init__(self, settings: WebSettings) -> None:
        self.vz_dir = settings.vz_dir
        self.node_socket = settings.node_socket
        self.membership_socket = settings.membership_socket
        self.crm_socket = settings.crm_socket
        self.volume_socket = settings.volume_socket
        self._hardware: dict[str, Any] = {}
        self._hardware_at = 0.0
        self._containers: dict[str, Any] = {}
        self._containers_at = 0.0

    def collect(self) -> dict[str, Any]:
        now = time.monotonic()
        if not self._hardware or now - self._hardware_at > HARDWARE_EVERY:
            self._hardware = hardware.probe()
            self._hardware_at = now
        if not self._containers or now - self._containers_at > CONTAINERS_EVERY:
            self._containers = containers(self.vz_dir)
            self._containers_at = now
        return {
            "reachable": True,
            "supervisor": ask(self.node_socket),
            "membership": ask(self.membership_socket),
            "crm": ask(self.crm_socket),
            "volume": ask(self.volume_socket),
            "hardware": self._hardware,
            "containers": self._containers,
        }


def containers(vz_dir: Path) -> dict[str, Any]:
    """The containers on this node's /vz, as `tandem ve list -a` shows them."""
    from tandem.containers.layout import Layout
    from tandem.containers.manager import Containers

    manager = Containers(Layout(vz_dir))
    try:
        manager.layout.require_mounted()
        listing = manager.listing(include_stopped=True)
    except (TandemError, OSError) as exc:
        return {"available": False, "reason": str(exc)}
    return {"available": True, "list": [i.to_dict() for i in listing]}


def service_group(nodes: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """Where the group runs, as the nodes' HA loops say; the seed's "aktiver Knoten"."""
    loops = {
        name: info["crm"]
        for name, info in nodes.items()
        if info.get("reachable")
        and isinstance(info.get("crm"), dict)
        and info["crm"].get("available")
    }
    if not loops:
        return {"available": False, "reason": "no node's HA loop answers (tandem crm status)"}
    active = sorted(name for name, crm in loops.items() if crm.get("active"))
    stopping = sorted(name for name, crm in loops.items() if crm.get("group") == "stopping")
    unknown = sorted(set(nodes) - set(loops))
    return {"available": True, "active": active, "stopping": stopping, "unknown": unknown}


class StatusPoller:
    def __init__(
        self,
        me: NodeId,
        local: LocalStatus,
        peer: PeerClient,
        sync: Sync,
        interval: float = 1.0,
    ) -> None:
        self.me = me
        self.local = local
        self.peer = peer
        self.sync = sync
        self.interval = interval
        self.snapshot: dict[str, Any] = {}
        self.version = 0
        self._changed = asyncio.Event()

    async def collect(self) -> dict[str, Any]:
        mine, theirs = await asyncio.gather(
            asyncio.to_thread(self.local.collect), self._peer_status()
        )
        nodes: dict[str, dict[str, Any]] = {self.me: mine, self.peer.peer: theirs}
        return {
            "generated": time.time(),
            "this_node": self.me,
            "nodes": nodes,
            "sync": self.sync.summary(),
            "service_group": service_group(nodes),
        }

    async def _peer_status(self) -> dict[str, Any]:
        try:
            reply = await self.peer.call("GET", "/peer/status", timeout=2.0)
        except (PeerUnreachable, PeerRefused) as exc:
            return {"reachable": False, "reason": str(exc)}
        reply["reachable"] = True
        reply["route"] = self.peer.last_route
        return reply

    async def refresh(self) -> None:
        snapshot = await self.collect()
        self.snapshot = snapshot
        self.version += 1
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # one bad round must not stop the status
                await asyncio.sleep(self.interval)
                continue
            await asyncio.sleep(self.interval)

    async def wait_newer(self, version: int, timeout: float) -> bool:
        """Wait until a snapshot newer than `version` exists; False on timeout."""
        if self.version > version:
            return True
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            return False
        return True
