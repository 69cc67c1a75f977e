"""The node's side of container networking: routed addresses on the external network.

See lxcconf.py for why routed. Here: finding the external interface (the one holding
this node's external address, whatever its name), switching on forwarding, probing
whether an address is taken on the wire, and gratuitous ARP so that the external network
learns that a container's address is now behind this node (after a start here, and after
a failover: CM-3 reuses `announce`).

ARP is spoken with a raw packet socket rather than arping: iputils arping refuses to
send from an address the node does not hold itself, and a container's address is not
the node's.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from ipaddress import IPv4Address
from pathlib import Path

from tandem.containers.errors import ContainerError
from tandem.system.run import run

ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6
ZERO_MAC = b"\x00" * 6


def external_interface(address: IPv4Address) -> str:
    """The interface that holds this node's external `address`."""
    out = run(["ip", "-j", "-4", "addr", "show"]).stdout
    for link in json.loads(out or "[]"):
        for info in link.get("addr_info", []):
            if info.get("local") == str(address):
                return str(link["ifname"])
    raise ContainerError(
        f"no interface of this node holds its external address {address}; bring the "
        "external network up before starting containers"
    )


def enable_forwarding() -> None:
    """Routed containers need the node to forward between their veths and the network."""
    path = Path("/proc/sys/net/ipv4/ip_forward")
    if path.read_text().strip() != "1":
        path.write_text("1\n")


def mac_of(interface: str) -> bytes:
    text = Path(f"/sys/class/net/{interface}/address").read_text().strip()
    return bytes.fromhex(text.replace(":", ""))


def _arp_frame(op: int, src_mac: bytes, sender: IPv4Address, target: IPv4Address) -> bytes:
    ether = BROADCAST + src_mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op)
    arp += src_mac + sender.packed + (ZERO_MAC if op == 1 else BROADCAST) + target.packed
    return ether + arp


def announce(address: IPv4Address, interface: str, count: int = 2) -> None:
    """Gratuitous ARP: `address` is at this node's MAC on `interface` (an unsolicited
    request, which Linux and common routers use to update an existing cache entry)."""
    mac = mac_of(interface)
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)) as sock:
        sock.bind((interface, ETH_P_ARP))
        for i in range(count):
            sock.send(_arp_frame(1, mac, address, address))
            sock.send(_arp_frame(2, mac, address, address))
            if i + 1 < count:
                time.sleep(0.05)


def in_use_on_wire(address: IPv4Address, interface: str, wait: float = 0.6) -> str | None:
    """Duplicate address detection (RFC 5227 probe): the MAC that answers for `address`
    on the external network, or None when nobody does within `wait` seconds."""
    mac = mac_of(interface)
    probe = _arp_frame(1, mac, IPv4Address(0), address)
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)) as sock:
        sock.bind((interface, ETH_P_ARP))
        deadline = time.monotonic() + wait
        sock.send(probe)
        resent = False
        while (left := deadline - time.monotonic()) > 0:
            if not resent and left < wait / 2:
                sock.send(probe)
                resent = True
            sock.settimeout(min(left, wait / 4))
            try:
                frame = sock.recv(128)
            except TimeoutError:
                continue
            if len(frame) < 42 or frame[12:14] != struct.pack("!H", ETH_P_ARP):
                continue
            op = struct.unpack("!H", frame[20:22])[0]
            sender_mac, sender_ip = frame[22:28], frame[28:32]
            if op == 2 and sender_ip == address.packed and sender_mac != mac:
                return ":".join(f"{b:02x}" for b in sender_mac)
    return None


def live_addresses(pid: int) -> tuple[IPv4Address, ...]:
    """The addresses a running container holds now (on its eth0)."""
    result = run(
        ["nsenter", "-t", str(pid), "-n", "--", "ip", "-j", "-4", "addr", "show", "dev", "eth0"],
        check=False,
    )
    if result.returncode != 0:
        return ()
    found = []
    for link in json.loads(result.stdout or "[]"):
        for info in link.get("addr_info", []):
            if info.get("family") == "inet" and info.get("prefixlen") == 32:
                found.append(IPv4Address(info["local"]))
    return tuple(found)


def add_live(pid: int, veid: int, address: IPv4Address, interface: str) -> None:
    """Give a running container one more address, as its start would have."""
    veth = f"ve{veid}"
    run(
        ["nsenter", "-t", str(pid), "-n", "--", "ip", "addr", "add", f"{address}/32", "dev", "eth0"]
    )
    run(["ip", "route", "replace", f"{address}/32", "dev", veth])
    run(["ip", "neigh", "replace", "proxy", str(address), "dev", interface])
    announce(address, interface)


def remove_live(pid: int, veid: int, address: IPv4Address, interface: str) -> None:
    del veid
    run(["ip", "neigh", "del", "proxy", str(address), "dev", interface], check=False)
    run(["ip", "route", "del", f"{address}/32"], check=False)
    run(
        [
            "nsenter",
            "-t",
            str(pid),
            "-n",
            "--",
            "ip",
            "addr",
            "del",
            f"{address}/32",
            "dev",
            "eth0",
        ],
        check=False,
    )
