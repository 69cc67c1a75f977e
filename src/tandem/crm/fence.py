"""Fencing: proving the peer is off (HB-6), pluggable.

- ipmi: `ipmitool chassis power off` on the peer's BMC, then power status must say off.
  The strongest guarantee: the peer is off whatever its software does.
- lab: the lab's power switch (its keeper) kills the peer machine; the same guarantee in
  the lab.
- none: no fencing. With a witness, quorum and the peer's self-fencing (its watchdog
  resets it before its grant ends) keep the group on one node; without a witness a dead
  peer cannot be told from a cut-off one, so no node takes over by itself.
"""

from __future__ import annotations

from tandem.config import ClusterConfig, NodeId
from tandem.errors import TandemError
from tandem.lab.keeper_client import KeeperClient
from tandem.system.run import run


def available(cfg: ClusterConfig) -> bool:
    return cfg.failover.fencing != "none"


def fence(cfg: ClusterConfig, peer: NodeId) -> str:
    """Power the peer off; raise TandemError unless it is proven off."""
    method = cfg.failover.fencing
    if method == "lab":
        if cfg.failover.lab_keeper is None:
            raise TandemError("fencing = lab needs [failover] lab_keeper")
        keeper = KeeperClient(cfg.failover.lab_keeper, timeout=15)
        machines = keeper.call("status").get("machines", {})
        if machines.get(peer, {}).get("state") != "on":
            # Off already (it crashed): proven off, as a BMC reports a chassis that is off.
            return f"{peer} is off (the lab's switch)"
        keeper.call("kill", machine=peer, hard=True)
        return f"{peer} powered off by the lab's switch"
    if method == "ipmi":
        address = cfg.failover.ipmi_node1 if peer == "node1" else cfg.failover.ipmi_node2
        if not address:
            raise TandemError(f"fencing = ipmi needs [failover] ipmi_{peer}")
        base = [
            "ipmitool", "-I", "lanplus", "-H", address,
            "-U", cfg.failover.ipmi_user, "-f", str(cfg.failover.ipmi_password_file),
        ]  # fmt: skip
        run([*base, "chassis", "power", "off"], timeout=30)
        state = run([*base, "chassis", "power", "status"], timeout=30).stdout
        if "off" not in state.lower():
            raise TandemError(f"{peer}'s BMC says {state.strip()!r} after power off")
        return f"{peer} powered off through its BMC {address}"
    raise TandemError("no fencing method is configured ([failover] fencing = none)")
