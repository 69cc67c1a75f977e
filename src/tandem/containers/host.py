"""What the containers area needs to know about this node and its cluster.

Read from /etc/tandem/cluster.toml (the same file on both nodes) and from the running
system; the node is found by its host name, as everywhere in tandem.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from tandem import paths
from tandem.config import ClusterConfig, NodeId, load_config
from tandem.config.load import InvalidConfig
from tandem.containers.errors import ContainerError


@dataclass(frozen=True)
class NodeFacts:
    cluster: str
    hostname: str
    node: NodeId
    external: IPv4Address  # this node's own address on the external network
    network: IPv4Network  # the external network, where containers get their addresses
    gateway: IPv4Address | None
    nameservers: tuple[IPv4Address, ...]
    searchdomains: tuple[str, ...]
    reserved: dict[IPv4Address, str]  # addresses of the cluster itself: never a container's

    @property
    def cgroup_group(self) -> str:
        """The cgroup folder of this node's containers. cgroup v1 has no namespaces, so two
        nodes on one kernel (the lab) must not share names: cluster and host name make it
        unique on any host."""
        return f"tandem.{self.cluster}.{self.hostname}"


def from_config(cfg: ClusterConfig, hostname: str) -> NodeFacts:
    node = cfg.node_by_hostname(hostname)
    if node is None:
        raise ContainerError(
            f"this host is called {hostname!r}, but the cluster configuration names "
            f"{cfg.node1.hostname!r} and {cfg.node2.hostname!r}; fix the host name or "
            f"{paths.CONFIG_FILE}"
        )
    network = IPv4Network(f"{cfg.node1.external}/{cfg.network.netmask}", strict=False)
    reserved = {
        cfg.node1.external: f"the external address of {cfg.node1.hostname}",
        cfg.node2.external: f"the external address of {cfg.node2.hostname}",
    }
    if cfg.network.gateway is not None:
        reserved[cfg.network.gateway] = "the gateway"
    for ping in cfg.ping.nodes:
        reserved.setdefault(ping, "a ping node")
    return NodeFacts(
        cluster=cfg.cluster.name,
        hostname=hostname,
        node=node,
        external=cfg.node(node).external,
        network=network,
        gateway=cfg.network.gateway,
        nameservers=tuple(cfg.network.dns_servers),
        searchdomains=tuple(cfg.network.dns_search),
        reserved=reserved,
    )


def load(config_file: Path = paths.CONFIG_FILE) -> NodeFacts:
    try:
        cfg = load_config(config_file)
    except InvalidConfig as exc:
        raise ContainerError(
            f"containers need a valid cluster configuration: {str(exc).splitlines()[0]}; "
            "run `tandem config check`"
        ) from None
    return from_config(cfg, socket.gethostname())


def load_links(config_file: Path = paths.CONFIG_FILE) -> list[Path]:
    """The drbdlinks list: `[containers] links` in cluster.toml (DR-9)."""
    try:
        return list(load_config(config_file).containers.links)
    except InvalidConfig as exc:
        raise ContainerError(
            f"the links need a valid cluster configuration: {str(exc).splitlines()[0]}; "
            "run `tandem config check`"
        ) from None
