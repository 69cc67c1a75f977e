"""Checks of what an operator types: host names, search domains, addresses.

Each check returns the normalised value or raises InvalidRequest with one sentence that
names the bad value and says what would be valid; nothing is changed before every value
of a request has passed (DESIGN invariant 6).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from ipaddress import IPv4Address, IPv4Network

from tandem.containers.errors import InvalidRequest

# The kernel keeps at most 64 bytes of host name (HOST_NAME_MAX), and the container's
# host name is its UTS name, so a longer FQDN could not be set.
HOSTNAME_MAX = 64
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")


def hostname(value: str) -> str:
    """A host name or FQDN (RFC 1123 labels), lower-cased, at most 64 characters."""
    name = value.strip().lower().rstrip(".")
    if not name or len(name) > HOSTNAME_MAX or not _DOMAIN.match(name):
        raise InvalidRequest(
            f"host name {value!r} is not valid; use letters, digits and '-' in dot-separated "
            f"labels that do not start or end with '-', at most {HOSTNAME_MAX} characters, "
            "like vps101.example.com"
        )
    return name


def domain(value: str) -> str:
    """A DNS search domain, like example.com."""
    name = value.strip().lower().rstrip(".")
    if not name or len(name) > 253 or not _DOMAIN.match(name):
        raise InvalidRequest(
            f"search domain {value!r} is not valid; give a domain name like example.com"
        )
    return name


def ipv4(value: str, what: str = "address") -> IPv4Address:
    """A plain IPv4 address (no prefix length)."""
    try:
        return IPv4Address(value.strip())
    except ValueError:
        raise InvalidRequest(
            f"{what} {value!r} is not an IPv4 address; give one like 10.0.0.103"
        ) from None


def container_address(
    value: str, network: IPv4Network, reserved: Mapping[IPv4Address, str]
) -> IPv4Address:
    """An address a container may hold: on the external network, a usable host address,
    and not one of the cluster's own (`reserved` maps those to what holds them)."""
    address = ipv4(value)
    if address not in network:
        raise InvalidRequest(
            f"address {address} is outside the external network {network}; give an address "
            f"from {network.network_address + 1} to {network.broadcast_address - 1}"
        )
    if address in (network.network_address, network.broadcast_address):
        kind = "network" if address == network.network_address else "broadcast"
        raise InvalidRequest(
            f"address {address} is the {kind} address of {network}; give a host address "
            f"from {network.network_address + 1} to {network.broadcast_address - 1}"
        )
    if address in reserved:
        raise InvalidRequest(
            f"address {address} is in use as {reserved[address]}; give a free address of {network}"
        )
    return address
