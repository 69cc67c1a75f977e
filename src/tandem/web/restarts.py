"""Which services a configuration change restarts, and restarting them (seed 7.2 Hinweis).

The daemons read cluster.toml when they start. After a change the web ends each affected
service with SIGTERM and the node supervisor starts it again (its contract: a service that
ends is restarted), so the new values take effect. Because restarting membership briefly
silences the heartbeat, the pages warn and ask before such a change is applied.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tandem import rpc
from tandem.config import ClusterConfig
from tandem.errors import TandemError

# Section of cluster.toml -> services that read it at start.
IMPACT: dict[str, tuple[str, ...]] = {
    "cluster": (),
    "node1": ("membership",),
    "node2": ("membership",),
    "network": ("membership",),
    "heartbeat": ("membership",),
    "ping": ("membership",),
    "quorum": ("membership",),
    "volume": ("volume",),
    "web": (),  # the web reads [web] at its own start; not changed from the pages
    "notification": (),  # read for each mail
}


def changed_sections(old: ClusterConfig, new: ClusterConfig) -> list[str]:
    return [name for name in ClusterConfig.model_fields if getattr(old, name) != getattr(new, name)]


def affected(old: ClusterConfig, new: ClusterConfig) -> set[str]:
    return {svc for section in changed_sections(old, new) for svc in IMPACT.get(section, ())}


def running(node_socket: Path) -> dict[str, int]:
    """Services the supervisor runs now, by name, with their PIDs."""
    try:
        status = rpc.call(node_socket, "status", timeout=2.0)
    except TandemError:
        return {}
    return {
        s["name"]: int(s["pid"])
        for s in status.get("services", [])
        if s.get("state") == "running" and s.get("pid")
    }


def restart(node_socket: Path, names: set[str]) -> tuple[list[str], dict[str, str]]:
    """End each named running service so the supervisor starts it with the new file."""
    done: list[str] = []
    failed: dict[str, str] = {}
    pids = running(node_socket)
    for name in sorted(names):
        pid = pids.get(name)
        if pid is None:
            continue  # not running here: it reads the new file when it starts
        try:
            os.kill(pid, signal.SIGTERM)
            done.append(name)
        except ProcessLookupError:
            done.append(name)  # it ended by itself; the supervisor starts it anew
        except PermissionError as exc:
            failed[name] = f"cannot signal pid {pid}: {exc}"
    return done, failed
