"""Checks that relate several keys of a type-valid configuration.

They are not pydantic validators because a model validator cannot say which key is wrong,
and an operator needs the key ("node2.crossover"), not "the configuration".
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from tandem.config.model import NODE_IDS, ClusterConfig


@dataclass(frozen=True)
class ConfigIssue:
    """One finding: which key, the bad value, what is wrong, and what would be valid."""

    key: str
    value: object
    problem: str
    expected: str

    def sentence(self) -> str:
        shown = "" if self.value is None else f" = {_show(self.value)}"
        return f"{self.key}{shown}: {self.problem}; expected {self.expected}"


def _show(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, IPv4Address):
        return f'"{value}"'
    return repr(value) if not isinstance(value, (int, float, bool)) else str(value).lower()


def _is_netmask(mask: IPv4Address) -> bool:
    bits = int(mask)
    inverted = ~bits & 0xFFFFFFFF
    return bits != 0 and (inverted & (inverted + 1)) == 0


def _network(address: IPv4Address, mask: IPv4Address) -> IPv4Network:
    return IPv4Network(f"{address}/{mask}", strict=False)


def check_rules(cfg: ClusterConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    issues += _timing_rules(cfg)
    issues += _address_rules(cfg)
    issues += _language_rules(cfg)
    issues += _quorum_rules(cfg)
    return issues


def _timing_rules(cfg: ClusterConfig) -> list[ConfigIssue]:
    issues = []
    hb = cfg.heartbeat
    t = hb.timing()
    # The key to blame is the one the operator set; if only the profile set it, the other.
    dead_key = "heartbeat.deadtime" if hb.deadtime is not None else "heartbeat.keepalive"
    if t.deadtime < 2 * t.keepalive:
        issues.append(
            ConfigIssue(
                dead_key,
                hb.deadtime if hb.deadtime is not None else hb.keepalive,
                f"deadtime {t.deadtime:g} s is shorter than two keepalives "
                f"(2 x {t.keepalive:g} s): one lost heartbeat would kill the peer",
                f"a deadtime of at least {2 * t.keepalive:g} s",
            )
        )
    if not t.keepalive <= t.warntime <= t.deadtime:
        issues.append(
            ConfigIssue(
                "heartbeat.warntime",
                t.warntime,
                f"warntime {t.warntime:g} s is not between keepalive {t.keepalive:g} s "
                f"and deadtime {t.deadtime:g} s",
                f"a value from {t.keepalive:g} to {t.deadtime:g}",
            )
        )
    if t.initdead < t.deadtime:
        issues.append(
            ConfigIssue(
                "heartbeat.initdead",
                t.initdead,
                f"initdead {t.initdead:g} s is shorter than deadtime {t.deadtime:g} s",
                f"at least {t.deadtime:g} (Heartbeat advises twice the deadtime)",
            )
        )
    return issues


def _address_rules(cfg: ClusterConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    net = cfg.network
    for key, mask in (
        ("network.netmask", net.netmask),
        ("network.crossover_netmask", net.crossover_netmask),
    ):
        if not _is_netmask(mask):
            issues.append(
                ConfigIssue(key, mask, "not a netmask", "contiguous ones like 255.255.255.0")
            )
    if issues:
        return issues

    n1, n2 = cfg.node1, cfg.node2
    for field in ("hostname", "crossover", "external"):
        if getattr(n1, field) == getattr(n2, field):
            issues.append(
                ConfigIssue(
                    f"node2.{field}",
                    getattr(n2, field),
                    f"the same {field} as node1.{field}",
                    f"a {field} of node2's own, different from node1's",
                )
            )
    for node_id in NODE_IDS:
        node = cfg.node(node_id)
        if node.crossover == node.external:
            issues.append(
                ConfigIssue(
                    f"{node_id}.external",
                    node.external,
                    f"the same address as {node_id}.crossover",
                    "an address on the external network, apart from the crossover link",
                )
            )
    xnet = _network(n1.crossover, net.crossover_netmask)
    if n2.crossover not in xnet:
        issues.append(
            ConfigIssue(
                "node2.crossover",
                n2.crossover,
                f"not on node1's crossover network {xnet}",
                f"an address in {xnet}",
            )
        )
    enet = _network(n1.external, net.netmask)
    if n2.external not in enet:
        issues.append(
            ConfigIssue(
                "node2.external",
                n2.external,
                f"not on node1's external network {enet}",
                f"an address in {enet}, or a different network.netmask",
            )
        )
    if net.gateway is not None and net.gateway not in enet:
        issues.append(
            ConfigIssue(
                "network.gateway",
                net.gateway,
                f"not on the external network {enet}",
                f"an address in {enet}",
            )
        )
    node_addresses = {n1.crossover, n1.external, n2.crossover, n2.external}
    for i, ping in enumerate(cfg.ping.nodes):
        if ping in node_addresses:
            issues.append(
                ConfigIssue(
                    f"ping.nodes[{i}]",
                    ping,
                    "an address of a cluster node; a ping node must be a third device",
                    "the router or another always-on device on the external network",
                )
            )
    return issues


def _language_rules(cfg: ClusterConfig) -> list[ConfigIssue]:
    web = cfg.web
    if web.default_language not in web.languages:
        return [
            ConfigIssue(
                "web.default_language",
                web.default_language,
                "not among web.languages",
                f"one of {', '.join(web.languages)}",
            )
        ]
    return []


def _quorum_rules(cfg: ClusterConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    n1, n2 = cfg.node1, cfg.node2
    node_addresses = {n1.crossover, n1.external, n2.crossover, n2.external}
    if cfg.quorum.witness in node_addresses:
        issues.append(
            ConfigIssue(
                "quorum.witness",
                cfg.quorum.witness,
                "an address of a cluster node; the witness must run on a third host",
                "the address of a third host that runs `tandem witness run`",
            )
        )
    t = cfg.heartbeat.timing()
    stop = cfg.quorum.stop_budget
    if stop is not None and stop >= t.deadtime:
        issues.append(
            ConfigIssue(
                "quorum.stop_budget",
                stop,
                f"not shorter than the deadtime ({t.deadtime:g} s)",
                f"less than {t.deadtime:g}",
            )
        )
    return issues
