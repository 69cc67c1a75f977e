"""Issue 6 (HB-6, DESIGN invariant 1): every heartbeat path between the nodes cut, with
and without the witness, watched from the administrator host.

`lab cut NODE serial crossover peer` leaves the nodes without any path to each other
while both still reach the router, the witness and the administrator. A checker on the
administrator host asks every 0.1 s who has container 101's address (ARP) and records
which MAC answers; the active node answers for its containers (proxy ARP). The test
asserts that no probe was ever answered by both nodes, and that the address changed
hands at most once (a takeover), never back and forth.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from tandem.lab.demo import demo_address
from tandem.lab.lab import Lab
from tests.conftest import tandem
from tests.lab.conftest import in_node
from tests.lab.failover_helpers import answers, crm, demo_fixture, url
from tests.lab.volume_helpers import SYNCED, ok, wait

pytestmark = pytest.mark.lab

ETH_P_ARP = 0x0806
EVERY_PATH = ("serial", "crossover", "peer")


class MacWatch:
    """Who answers for `address` on the administrator's network, probe by probe."""

    def __init__(self, interface: str, source: IPv4Address, address: IPv4Address) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        self.sock.bind((interface, ETH_P_ARP))
        self.sock.settimeout(0.05)
        mac = bytes.fromhex(Path(f"/sys/class/net/{interface}/address").read_text().strip()
                            .replace(":", ""))  # fmt: skip
        ether = b"\xff" * 6 + mac + struct.pack("!H", ETH_P_ARP)
        arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + source.packed
        self.request = ether + arp + b"\x00" * 6 + address.packed
        self.round = 0
        self.answers: list[tuple[float, int, str]] = []  # (time, probe round, MAC)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MacWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        self.sock.close()

    def _run(self) -> None:
        next_probe = 0.0
        while not self.stopped.is_set():
            now = time.monotonic()
            if now >= next_probe:
                self.round += 1
                self.sock.send(self.request)
                next_probe = now + 0.1
            try:
                frame = self.sock.recv(128)
            except TimeoutError:
                continue
            if len(frame) < 42 or struct.unpack("!H", frame[20:22])[0] != 2:
                continue
            if frame[28:32] == self.address.packed:
                mac = ":".join(f"{b:02x}" for b in frame[22:28])
                self.answers.append((time.monotonic(), self.round, mac))

    def both_at_once(self) -> list[int]:
        """Probe rounds answered by more than one MAC."""
        by_round: dict[int, set[str]] = {}
        for _, probe, mac in self.answers:
            by_round.setdefault(probe, set()).add(mac)
        return sorted(r for r, macs in by_round.items() if len(macs) > 1)

    def owners(self) -> list[str]:
        """The MACs that answered, in order, each run of the same MAC once."""
        runs: list[str] = []
        for _, _, mac in self.answers:
            if not runs or runs[-1] != mac:
                runs.append(mac)
        return runs


def mac_of(node: str) -> str:
    return ok(in_node(node, "cat", "/sys/class/net/eth0/address")).strip()


def watch(lab: Lab) -> MacWatch:
    return MacWatch(lab.spec.host_if, lab.spec.admin_ip, demo_address(lab))


def active_node() -> str:
    return "node2" if crm("node2")["active"] else "node1"


def judge(seen: MacWatch, macs: dict[str, str]) -> list[str]:
    names = {mac: node for node, mac in macs.items()}
    owners = [names.get(mac, mac) for mac in seen.owners()]
    print(f"\n{len(seen.answers)} ARP answers in {seen.round} probes; owners in turn: {owners}")
    assert seen.answers, "nobody ever answered for the service address"
    assert seen.both_at_once() == [], f"both nodes answered probes {seen.both_at_once()[:10]}"
    assert len(owners) <= 2, f"the service address went back and forth: {owners}"
    return owners


def cut_every_path(lab: Lab, active: str) -> tuple[MacWatch, dict[str, str]]:
    """Every path of the active node to its peer cut for 12 s (deadtime 2 s, then the
    peer's claim, the witness or fencing, a takeover would be done), then healed; the
    checker runs from a second before to three seconds after."""
    wait(active, SYNCED, 180)
    macs = {node: mac_of(node) for node in ("node1", "node2")}
    with watch(lab) as seen:
        time.sleep(1.0)
        ok(tandem("lab", "cut", active, *EVERY_PATH))
        try:
            time.sleep(12)
            print(f"\nwhile cut, the service answers: {answers(url(lab))}")
        finally:
            ok(tandem("lab", "heal", active, *EVERY_PATH))
        time.sleep(3)
    return seen, macs


@pytest.fixture
def with_witness() -> Iterator[Lab]:
    yield from demo_fixture()


@pytest.mark.timeout(600)
def test_every_path_cut_with_the_witness(with_witness: Lab) -> None:
    """The witness keeps its vote with the node that runs the group: nothing moves."""
    active = active_node()
    seen, macs = cut_every_path(with_witness, active)
    assert judge(seen, macs) == [active]
    assert crm(active)["group"] == "running"
    wait(active, SYNCED, 180)


@pytest.fixture
def without_witness() -> Iterator[Lab]:
    yield from demo_fixture("--no-witness")


@pytest.mark.timeout(900)
def test_every_path_cut_without_the_witness_fencing_decides(without_witness: Lab) -> None:
    """No witness: both nodes see the other dead. The node that runs the group fences its
    peer at once (the passive one would wait crm.core.PASSIVE_FENCE_DELAY first), so the
    service stays where it ran, and only there; the fenced node boots, rejoins passive
    (no failback) and resyncs."""
    lab = without_witness
    active = active_node()
    passive = "node2" if active == "node1" else "node1"
    seen, macs = cut_every_path(lab, active)
    assert judge(seen, macs) == [active]
    assert passive not in lab.running(), f"{passive} should have been fenced"
    assert crm(active)["group"] == "running" and answers(url(lab))
    events = ok(in_node(active, "tandem", "events", "--json", "-n", "500", timeout=60))
    assert f"fencing {passive}" in events and "this node runs the group" in events
    lab.boot(passive)
    wait(active, SYNCED, 240)
    time.sleep(3)
    assert crm(active)["group"] == "running" and not crm(passive)["active"]
    assert answers(url(lab))
