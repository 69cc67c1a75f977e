"""Host names, domains and container addresses (bad input refused, DESIGN invariant 6)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from tandem.containers import validate
from tandem.containers.errors import InvalidRequest

NET = IPv4Network("10.0.0.0/24")
RESERVED = {IPv4Address("10.0.0.11"): "the external address of node1"}


@pytest.mark.parametrize(
    ("given", "kept"),
    [("vps101.example.com", "vps101.example.com"), ("VPS101", "vps101"), ("a", "a"),
     ("web-1.example.com.", "web-1.example.com")],
)  # fmt: skip
def test_hostnames(given: str, kept: str) -> None:
    assert validate.hostname(given) == kept


@pytest.mark.parametrize(
    "bad",
    ["bad_host", "-web", "web-", "a..b", "", "x" * 64 + ".com", "a b", "vps101.example.com/x",
     "ümlaut"],
)  # fmt: skip
def test_invalid_hostnames(bad: str) -> None:
    with pytest.raises(InvalidRequest, match="is not valid"):
        validate.hostname(bad)


def test_address_on_the_network() -> None:
    assert validate.container_address("10.0.0.50", NET, RESERVED) == IPv4Address("10.0.0.50")


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("10.0.1.50", "outside the external network 10.0.0.0/24"),
        ("192.168.255.3", "outside"),
        ("10.0.0.0", "network address"),
        ("10.0.0.255", "broadcast address"),
        ("10.0.0.11", "in use as the external address of node1"),
        ("10.0.0.500", "not an IPv4 address"),
        ("10.0.0.50/24", "not an IPv4 address"),
        ("fe80::1", "not an IPv4 address"),
    ],
)
def test_bad_addresses(bad: str, says: str) -> None:
    with pytest.raises(InvalidRequest, match=says):
        validate.container_address(bad, NET, RESERVED)


def test_domain() -> None:
    assert validate.domain("Example.COM") == "example.com"
    with pytest.raises(InvalidRequest, match="search domain"):
        validate.domain("exa mple")
