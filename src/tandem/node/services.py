"""Which services a node runs, in start order.

Each later area (membership, volume, crm, web) adds its daemon here; the supervisor only
knows how to start, watch and stop processes, not what they are.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from tandem.config import ClusterConfig, NodeId


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    argv: list[str]
    stop_timeout: float = 10.0
    env: dict[str, str] = field(default_factory=dict)


def tandem_command(*args: str) -> list[str]:
    """The argv that runs `tandem ARGS` with this very interpreter and installation."""
    return [sys.executable, "-m", "tandem", *args]


def node_services(cfg: ClusterConfig, node: NodeId) -> list[ServiceSpec]:
    """The node's daemons for this configuration; membership, volume and crm are added by
    their issues."""
    del cfg, node
    return [
        # Membership first: everything else asks it whether this node may act.
        ServiceSpec("membership", tandem_command("membership", "run"), stop_timeout=5.0),
        # The replicated volume: /vz on the Primary lives on this process (DR-1..DR-8).
        ServiceSpec("volume", tandem_command("volume", "run"), stop_timeout=30.0),
        # The HA loop: runs the service group where membership grants it (CM-1..CM-5).
        # Stopping it stops the group first (containers, /vz), hence the long timeout.
        ServiceSpec("crm", tandem_command("crm", "run"), stop_timeout=150.0),
        # `tandem web run`, through the web package's own entry point.
        ServiceSpec("web", [sys.executable, "-m", "tandem.web", "run"], stop_timeout=5.0),
    ]
