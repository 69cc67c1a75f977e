"""Plugging the lab's cables in: `ip` and `nft` run from the host into each namespace.

Links are made with both ends created directly in their namespaces, so nothing but the
administrator's veth ever exists in the host's namespace, and a crashed machine takes its
ends with it. Cuts are re-applied whenever a machine (re)boots: a cable that was pulled
stays pulled across a power cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tandem.lab.topology import (
    CROSSOVER_IF,
    CROSSOVER_NET,
    EXTERNAL_IF,
    NODES,
    ROUTER_BRIDGE,
    ROUTER_MAC,
    LabSpec,
    MachineName,
    PathName,
)
from tandem.system.run import in_netns, run

Cuts = Mapping[MachineName, Iterable[PathName]]


def ip_batch(pid: int, commands: list[str]) -> None:
    run(in_netns(pid, ["ip", "-batch", "-"]), input="\n".join(commands) + "\n")


def sysctl(pid: int, settings: dict[str, str]) -> None:
    args = [f"{k}={v}" for k, v in settings.items()]
    run(in_netns(pid, ["sysctl", "-q", "-w", *args]))


QUIET_IPV6 = {"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"}


def wire_router(spec: LabSpec, router: int) -> None:
    """Two switches and the router's own bridge between them, plus the admin's cable."""
    sysctl(router, {**QUIET_IPV6, "net.ipv4.ip_forward": "1"})
    prefix = spec.subnet.prefixlen
    ip_batch(
        router,
        [
            "link set lo up",
            "link add sw1 type bridge forward_delay 0",
            "link add sw2 type bridge forward_delay 0",
            f"link add {ROUTER_BRIDGE} address {ROUTER_MAC} type bridge forward_delay 0",
            "link add up1 type veth peer name r1",
            "link add up2 type veth peer name r2",
            "link set up1 master sw1",
            "link set up2 master sw2",
            f"link set r1 master {ROUTER_BRIDGE}",
            f"link set r2 master {ROUTER_BRIDGE}",
            *(f"link set {d} up" for d in ("sw1", "sw2", ROUTER_BRIDGE, "up1", "up2", "r1", "r2")),
            f"addr add {spec.router_ip}/{prefix} dev {ROUTER_BRIDGE}",
        ],
    )
    run(["ip", "link", "del", spec.host_if], check=False)
    run(
        [
            "ip", "link", "add", spec.host_if, "type", "veth",
            "peer", "name", "adm", "netns", str(router),
        ]
    )  # fmt: skip
    run(["ip", "addr", "add", f"{spec.admin_ip}/{prefix}", "dev", spec.host_if])
    run(["ip", "link", "set", spec.host_if, "up"])
    ip_batch(router, ["link set adm master sw1", "link set adm up"])


def wire_node(
    spec: LabSpec, node: MachineName, pids: Mapping[MachineName, int], cuts: Cuts
) -> None:
    """The node's external cable into its switch, and the crossover cable if the peer is on."""
    me, router = pids[node], pids["router"]
    prefix = spec.subnet.prefixlen
    sysctl(me, QUIET_IPV6)
    port = spec.router_port(node)
    run(
        [
            "ip", "link", "add", "name", EXTERNAL_IF, "netns", str(me), "type", "veth",
            "peer", "name", port, "netns", str(router),
        ]
    )  # fmt: skip
    ip_batch(router, [f"link set {port} master {spec.switch_of(node)}", f"link set {port} up"])
    ip_batch(
        me,
        [
            "link set lo up",
            f"addr add {spec.external_ip(node)}/{prefix} dev {EXTERNAL_IF}",
            f"link set {EXTERNAL_IF} up",
            f"route add default via {spec.router_ip}",
        ],
    )
    peer: MachineName = "node2" if node == "node1" else "node1"
    if peer in pids:
        run(
            [
                "ip", "link", "add", "name", CROSSOVER_IF, "netns", str(me), "type", "veth",
                "peer", "name", CROSSOVER_IF, "netns", str(pids[peer]),
            ]
        )  # fmt: skip
        for end in (node, peer):
            address = f"{spec.crossover_ip(end)}/{CROSSOVER_NET.prefixlen}"
            ip_batch(
                pids[end],
                [f"addr add {address} dev {CROSSOVER_IF}", f"link set {CROSSOVER_IF} up"],
            )
    apply_cuts(spec, pids, cuts)


def apply_cuts(spec: LabSpec, pids: Mapping[MachineName, int], cuts: Cuts) -> None:
    """Make every running link match the recorded cuts (serial is the keeper's business)."""
    router = pids.get("router")
    for node in NODES:
        node_cuts = set(cuts.get(node, ()))
        if node in pids:
            present = run(in_netns(pids[node], ["ip", "link", "show", CROSSOVER_IF]), check=False)
            if present.returncode == 0:
                state = "down" if "crossover" in node_cuts else "up"
                ip_batch(pids[node], [f"link set {CROSSOVER_IF} {state}"])
        if router is not None and node in pids:
            state = "down" if "external" in node_cuts else "up"
            ip_batch(router, [f"link set {spec.router_port(node)} {state}"])
    if router is not None:
        _bridge_filter(spec, router, cuts)


def _bridge_filter(spec: LabSpec, router: int, cuts: Cuts) -> None:
    """Cuts made by filtering frames in the router's switches, not by pulling a cable.

    "ping": frames between the node's switch port and the router's own MAC are dropped:
    the node loses the ping node (and its gateway) but still reaches its peer and the
    admin. "peer": IPv4 between the two nodes' external addresses is dropped, in both
    directions, wherever it is bridged: each node still reaches the router, the witness
    and the administrator, and they see both nodes."""
    rules = []
    for node in NODES:
        node_cuts = set(cuts.get(node, ()))
        if "ping" in node_cuts:
            port = spec.router_port(node)
            rules.append(f'iifname "{port}" ether daddr {ROUTER_MAC} drop')
            rules.append(f'oifname "{port}" ether saddr {ROUTER_MAC} drop')
        if "peer" in node_cuts:
            mine, theirs = (
                spec.external_ip(n) for n in (node, "node2" if node == "node1" else "node1")
            )
            rules.append(f"ip saddr {mine} ip daddr {theirs} drop")
            rules.append(f"ip saddr {theirs} ip daddr {mine} drop")
    ruleset = (
        "table bridge tandem_cuts\n"
        "delete table bridge tandem_cuts\n"
        "table bridge tandem_cuts {\n"
        "  chain forward { type filter hook forward priority 0; policy accept;\n"
        + "".join(f"    {r}\n" for r in rules)
        + "  }\n}\n"
    )
    run(in_netns(router, ["nft", "-f", "-"]), input=ruleset)
