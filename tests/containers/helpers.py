"""Small builders shared by the unit tests of the containers area."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from tandem.containers.definition import Definition
from tandem.containers.host import NodeFacts
from tandem.containers.samples import Resources

MIB = 1024**2
GIB = 1024**3


def resources(**changes: object) -> Resources:
    base = {
        "memory": 256 * MIB,
        "numproc": 256,
        "cpuunits": 1000,
        "cpulimit": 50,
        "diskspace": 2 * GIB,
        "diskinodes": 200_000,
    }
    base.update(changes)
    return Resources(**base)  # type: ignore[arg-type]


def definition(**changes: object) -> Definition:
    base: dict[str, object] = {
        "veid": 101,
        "hostname": "vps101.example.com",
        "ostemplate": "busybox",
        "sample": "vps.256MB",
        "resources": resources(),
        "onboot": True,
        "addresses": (IPv4Address("10.0.0.103"), IPv4Address("10.0.0.104")),
        "nameservers": (IPv4Address("10.0.0.1"),),
        "searchdomains": ("example.com",),
        "created": "2026-11-25T10:00:00Z",
    }
    base.update(changes)
    return Definition(**base)  # type: ignore[arg-type]


def facts() -> NodeFacts:
    return NodeFacts(
        cluster="tandem",
        hostname="node1",
        node="node1",
        external=IPv4Address("10.0.0.11"),
        network=IPv4Network("10.0.0.0/24"),
        gateway=IPv4Address("10.0.0.1"),
        nameservers=(IPv4Address("10.0.0.1"),),
        searchdomains=("example.com",),
        reserved={IPv4Address("10.0.0.11"): "node1", IPv4Address("10.0.0.12"): "node2"},
    )
