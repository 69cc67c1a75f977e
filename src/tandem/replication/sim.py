"""The replication cores of two nodes in the deterministic simulator.

Each node has a disk with a volatile write cache (a power cut loses what was not flushed,
as the lab's disks and real disks do), the link is an ordered stream that breaks and is
re-established, and an outdate channel stands for the other ways the Primary can reach its
peer (the membership paths, the witness, fencing). An application on the Primary writes
blocks with ever-growing versions, flushes, and reads; a failover stand-in promotes only
by the rules. Faults: link cuts, the outdate channel lost, crashes with and without power
loss, both nodes losing power at once, disk failures, switchovers.

Checked: every write whose flush was acknowledged is on whichever node becomes Primary
(invariant 2; this also catches a stale node becoming Primary, invariant 3); never two
Primaries; a resync never replaces an acknowledged block with an older version (invariant
4); reads return what was written; after healing, both replicas are UpToDate and identical.

Replay: `python -m tandem.replication.sim --seed N -v`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tandem.replication import messages as m
from tandem.replication.bitmap import BLOCK
from tandem.replication.core import Meta, ReplicaConfig, ReplicaCore
from tandem.replication.events import (
    Action,
    AppFlush,
    AppRead,
    AppWrite,
    Complete,
    Connect,
    Demote,
    DropLink,
    Event,
    Initialize,
    IoDone,
    LinkDown,
    LinkUp,
    LocalFlush,
    LocalRead,
    LocalWrite,
    Notice,
    OutdateDone,
    OutdateRequested,
    PeerMsg,
    PeerOutdated,
    PersistMeta,
    Promote,
    RequestOutdate,
    Send,
    Tick,
)
from tandem.replication.generations import Generations
from tandem.replication.states import Conn, Disk, Role
from tandem.sim.scheduler import Scheduler

BLOCKS = 64


class SimulationFailure(AssertionError):
    def __init__(self, seed: int, at: float, message: str, trace: list[str]) -> None:
        self.seed = seed
        tail = "\n".join(trace[-30:])
        super().__init__(
            f"seed {seed} failed at t={at:.3f}: {message}\n"
            f"replay: python -m tandem.replication.sim --seed {seed} -v\n"
            f"--- last events ---\n{tail}"
        )


def block_data(version: int) -> bytes:
    return version.to_bytes(8, "big") * (BLOCK // 8)


def versions_of(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 8], "big") for i in range(0, len(data), BLOCK)]


@dataclass
class SimDisk:
    durable: dict[int, int] = field(default_factory=dict)
    cache: dict[int, int] = field(default_factory=dict)
    failed: bool = False

    def read(self, block: int) -> int:
        return self.cache.get(block, self.durable.get(block, 0))

    def flush(self) -> None:
        self.durable.update(self.cache)
        self.cache.clear()

    def power_cut(self) -> None:
        self.cache.clear()


@dataclass
class SimNode:
    world: World
    id: int
    disk: SimDisk = field(default_factory=SimDisk)
    meta: dict[str, Any] = field(default_factory=dict)
    bitmap: bytearray = field(default_factory=lambda: bytearray(BLOCKS // 8 or 1))
    core: ReplicaCore | None = None
    life: int = 0
    link: int = 0  # id of the connection this node is part of (0: none)
    linked_once: bool = False  # has met the peer since it booted

    @property
    def name(self) -> str:
        return f"node{self.id}"

    def boot(self) -> None:
        w = self.world
        self.life += 1
        meta = Meta(
            Generations(self.meta["current"], self.meta["bitmap_gen"], tuple(self.meta["history"])),
            Disk(self.meta["disk"]),
            self.meta["was_primary"],
            list(self.meta["al"]),
            bytes(self.bitmap),
        )
        cfg = ReplicaConfig(
            self.id, BLOCKS, protocol="C", ack_timeout=1.0, resync_rate=64 * BLOCK * 10, al_slots=4
        )
        self.core = ReplicaCore(cfg, meta, w.sched.now, w.new_id)
        self.link = 0
        self.linked_once = False
        w.trace(f"{self.name} boots: {meta.disk.value}, generation {meta.gens.current:x}")
        w.sched.after(0.1, self.tick, self.life)

    def crash(self, power: bool) -> None:
        if self.core is None:
            return
        self.core = None
        self.life += 1
        if power:
            self.disk.power_cut()
        w = self.world
        w.trace(f"{self.name} {'loses power' if power else 'crashes'}")
        w.drop_link("peer crashed")
        w.app_lost(self)

    def tick(self, life: int) -> None:
        if life != self.life or self.core is None:
            return
        self.feed(Tick())
        self.world.sched.after(0.1, self.tick, life)

    def feed(self, event: Event) -> None:
        core = self.core
        if core is None:
            return
        before = core.role
        for action in core.handle(event, self.world.sched.now):
            if self.core is not core:
                return  # the action crashed the node
            self.world.execute(self, action)
        if self.core is core and before != core.role:
            self.world.role_changed(self, before)


class World:
    def __init__(self, seed: int, chaos: float = 15.0, heal: float = 15.0) -> None:
        self.seed = seed
        self.sched = Scheduler(seed)
        self.rng = self.sched.rng
        self.chaos, self.heal_time = chaos, heal
        self.log: list[str] = []
        self.nodes = {i: SimNode(self, i) for i in (1, 2)}
        self.ids = 1000
        self.conn_id = 0
        self.link_ok = True
        self.channel_ok = True
        self.healed = False
        self.version = 0
        # what the application knows
        self.acked: dict[int, int] = {}  # block -> highest version whose write completed
        self.durable_floor: dict[int, int] = {}  # block -> version covered by a completed flush
        self.app_reqs: dict[int, tuple[str, dict[int, int], int]] = {}
        self.req = 0
        self.writer = 0  # node id the application runs on
        self.outdated_record: set[int] = set()  # nodes known Outdated without their knowing
        self.ever_written: set[tuple[int, int]] = set()
        self.last_arrival = {1: 0.0, 2: 0.0}
        self.downs_pending = 0  # a new connection waits until both saw the old one go
        for node in self.nodes.values():
            node.meta = {
                "current": 1,
                "bitmap_gen": 0,
                "history": [],
                "disk": "UpToDate",
                "was_primary": False,
                "al": [],
            }

    # --- infrastructure --------------------------------------------------------------------

    def new_id(self) -> int:
        self.ids += 1
        return self.ids * 7919

    def trace(self, text: str) -> None:
        self.log.append(f"{self.sched.now:8.3f} {text}")

    def fail(self, message: str) -> None:
        raise SimulationFailure(self.seed, self.sched.now, message, self.log)

    def peer(self, node: SimNode) -> SimNode:
        return self.nodes[3 - node.id]

    # --- actions ------------------------------------------------------------------------------

    def execute(self, node: SimNode, a: Action) -> None:
        s = self.sched
        if isinstance(a, LocalWrite):
            s.after(self.rng.uniform(0.0005, 0.003), self.disk_write, node, node.life, a)
        elif isinstance(a, LocalFlush):
            s.after(self.rng.uniform(0.001, 0.005), self.disk_flush, node, node.life, a.io)
        elif isinstance(a, LocalRead):
            s.after(self.rng.uniform(0.0005, 0.002), self.disk_read, node, node.life, a)
        elif isinstance(a, PersistMeta):
            s.after(self.rng.uniform(0.001, 0.004), self.persist, node, node.life, a)
        elif isinstance(a, Send):
            self.send(node, a.msg)
        elif isinstance(a, Complete):
            self.app_complete(node, a)
        elif isinstance(a, DropLink):
            self.trace(f"{node.name} drops the link: {a.reason}")
            self.drop_link(a.reason)
        elif isinstance(a, RequestOutdate):
            self.outdate(node, a.token)
        elif isinstance(a, OutdateDone):
            pass  # handled by the outdate channel's callback
        elif isinstance(a, Notice):
            self.trace(a.sentence)

    def disk_write(self, node: SimNode, life: int, a: LocalWrite) -> None:
        if life != node.life:
            return
        ok = not node.disk.failed
        if ok:
            for i, v in enumerate(versions_of(a.data)):
                node.disk.cache[a.offset // BLOCK + i] = v
        node.feed(IoDone(a.io, ok))

    def disk_flush(self, node: SimNode, life: int, io: int) -> None:
        if life != node.life:
            return
        ok = not node.disk.failed
        if ok:
            node.disk.flush()
        node.feed(IoDone(io, ok))

    def disk_read(self, node: SimNode, life: int, a: LocalRead) -> None:
        if life != node.life:
            return
        if node.disk.failed:
            node.feed(IoDone(a.io, False))
            return
        first = a.offset // BLOCK
        data = b"".join(block_data(node.disk.read(first + i)) for i in range(a.length // BLOCK))
        node.feed(IoDone(a.io, True, data))

    def persist(self, node: SimNode, life: int, a: PersistMeta) -> None:
        if life != node.life:
            return
        if node.disk.failed:
            node.feed(IoDone(a.io, False))
            return
        meta = dict(a.meta)
        pages = meta.pop("bitmap_pages")
        for page, data in pages.items():
            node.bitmap[page * BLOCK : page * BLOCK + len(data)] = data[: len(node.bitmap)]
        node.meta = meta
        node.feed(IoDone(a.io, True))

    # --- the link ---------------------------------------------------------------------------

    def send(self, node: SimNode, msg: Any) -> None:
        peer = self.peer(node)
        if not node.link or node.link != peer.link:
            return
        if isinstance(msg, m.SyncData):
            self.check_resync(peer, msg)
        # A stream: jitter, but never reordering.
        at = max(self.sched.now + self.rng.uniform(0.0002, 0.003), self.last_arrival[node.id])
        self.last_arrival[node.id] = at
        self.sched.at(at, self.deliver, peer, node.link, msg)

    def deliver(self, node: SimNode, link: int, msg: Any) -> None:
        if node.link != link:
            return
        node.feed(PeerMsg(msg))

    def drop_link(self, reason: str) -> None:
        for node in self.nodes.values():
            if node.link:
                node.link = 0
                self.downs_pending += 1
                self.sched.after(0.002, self.link_down, node, reason)

    def link_down(self, node: SimNode, reason: str) -> None:
        self.downs_pending -= 1
        node.feed(LinkDown(reason))

    def try_connect(self) -> None:
        n1, n2 = self.nodes[1], self.nodes[2]
        if (
            self.link_ok
            and not self.downs_pending
            and n1.core is not None
            and n2.core is not None
            and not n1.link
            and not n2.link
            and Conn.STANDALONE not in (n1.core.conn, n2.core.conn)
        ):
            self.conn_id += 1
            n1.link = n2.link = self.conn_id
            n1.linked_once = n2.linked_once = True
            self.trace(f"link up ({self.conn_id})")
            n1.feed(LinkUp())
            n2.feed(LinkUp())
        self.sched.after(0.5, self.try_connect)

    # --- the outdate channel ------------------------------------------------------------------

    def outdate(self, node: SimNode, token: int) -> None:
        peer = self.peer(node)
        life = node.life

        def confirmed() -> None:
            if node.life == life:
                node.feed(PeerOutdated(token))

        if peer.core is None:
            # The peer is down: the record (witness or fencing) makes it unpromotable.
            self.outdated_record.add(peer.id)
            self.trace(f"{peer.name} recorded Outdated (it is down)")
            self.sched.after(0.05, confirmed)
        elif self.channel_ok:
            peer_life = peer.life

            def ask() -> None:
                if peer.life != peer_life or peer.core is None:
                    return
                acts = peer.core.handle(OutdateRequested(token), self.sched.now)
                for act in acts:
                    if isinstance(act, PersistMeta):
                        self.sched.after(0.002, self.persist_then, peer, peer_life, act, confirmed)
                    elif peer.core is not None:
                        self.execute(peer, act)

            self.sched.after(0.02, ask)
        else:
            self.sched.after(0.5, self.retry_outdate, node, life, token)

    def retry_outdate(self, node: SimNode, life: int, token: int) -> None:
        if node.life == life and node.core is not None and node.core.frozen:
            self.outdate(node, token)

    def persist_then(
        self, node: SimNode, life: int, a: PersistMeta, then: Callable[[], None]
    ) -> None:
        if life != node.life:
            return
        self.persist(node, life, a)
        self.sched.after(0.01, then)

    # --- the application and the failover stand-in --------------------------------------------

    def app_step(self) -> None:
        if self.sched.now > self.chaos + self.heal_time - 3.0:
            return  # quiet at the end, so that the replicas can be compared
        node = self.nodes.get(self.writer)
        if node is not None and node.core is not None and node.core.role == Role.PRIMARY:
            roll = self.rng.random()
            self.req += 1
            if roll < 0.7:
                start = self.rng.randrange(BLOCKS)
                count = min(self.rng.choice([1, 1, 2, 4]), BLOCKS - start)
                versions = {}
                data = b""
                for b in range(start, start + count):
                    self.version += 1
                    versions[b] = self.version
                    data += block_data(self.version)
                    self.ever_written.add((b, self.version))
                self.app_reqs[self.req] = ("write", versions, node.id)
                node.feed(AppWrite(self.req, start * BLOCK, data))
            elif roll < 0.9:
                snapshot = dict(self.acked)
                self.app_reqs[self.req] = ("flush", snapshot, node.id)
                node.feed(AppFlush(self.req))
            else:
                block = self.rng.randrange(BLOCKS)
                self.app_reqs[self.req] = (
                    "read",
                    {block: self.durable_floor.get(block, 0)},
                    node.id,
                )
                node.feed(AppRead(self.req, block * BLOCK, BLOCK))
        self.sched.after(self.rng.uniform(0.002, 0.02), self.app_step)

    def app_complete(self, node: SimNode, a: Complete) -> None:
        kind, info, owner = self.app_reqs.pop(a.req, ("?", {}, 0))
        if kind == "flush" and not a.ok and owner == node.id:
            # After a failed flush nothing unflushed can be trusted (fsync's errseq rule).
            self.acked = dict(self.durable_floor)
        if not a.ok or owner != node.id:
            return
        if kind == "write":
            for b, v in info.items():
                self.acked[b] = max(self.acked.get(b, 0), v)
        elif kind == "flush":
            for b, v in info.items():
                self.durable_floor[b] = max(self.durable_floor.get(b, 0), v)
        elif kind == "read":
            ((block, floor),) = info.items()
            got = versions_of(a.data or b"")[0]
            if got < floor:
                self.fail(
                    f"read of block {block} on {node.name} returned version {got}, older "
                    f"than the flushed {floor}"
                )

    def app_lost(self, node: SimNode) -> None:
        """The application on a Primary that went away: what it had not flushed may be
        gone, and its successor starts from what was flushed."""
        for req in [r for r, (_, _, owner) in self.app_reqs.items() if owner == node.id]:
            del self.app_reqs[req]
        if self.writer == node.id:
            self.acked = dict(self.durable_floor)

    def role_changed(self, node: SimNode, before: Role) -> None:
        assert node.core is not None
        if node.core.role == Role.PRIMARY:
            other = self.peer(node)
            if other.core is not None and other.core.role == Role.PRIMARY:
                self.fail("two Primaries at once")
            self.check_complete(node, "promoted")
            self.writer = node.id
        elif before == Role.PRIMARY and self.writer == node.id:
            self.app_lost(node)
            self.writer = 0

    def crm_step(self) -> None:
        primaries = [
            n for n in self.nodes.values() if n.core is not None and n.core.role == Role.PRIMARY
        ]
        if not primaries:
            candidates = [n for n in self.nodes.values() if n.core is not None]
            self.rng.shuffle(candidates)
            for node in candidates:
                core = node.core
                assert core is not None
                other = self.peer(node)
                confirmed = (
                    node.linked_once
                    and node.id not in self.outdated_record
                    and (other.core is None or core.linked)
                )
                node.feed(Promote(peer_confirmed=confirmed))
                if node.core is not None and node.core.role == Role.PRIMARY:
                    if not core.linked and other.id not in self.outdated_record:
                        # The contract of a confirmed promotion: the failover logic has
                        # recorded the absent peer as Outdated (witness), so it cannot
                        # come back and promote on the data it missed.
                        self.outdated_record.add(other.id)
                        self.trace(f"{other.name} recorded Outdated ({node.name} promoted)")
                    break
        elif not self.healed and self.rng.random() < 0.05:
            node = primaries[0]
            other = self.peer(node)
            if (
                node.core is not None
                and other.core is not None
                and node.core.conn == Conn.CONNECTED
                and other.core.disk == Disk.UP_TO_DATE
            ):
                self.trace(f"switchover {node.name} -> {other.name}")
                node.feed(Demote())
                other.feed(Promote())
        for node in self.nodes.values():
            core = node.core
            if core is not None and core.disk == Disk.UP_TO_DATE and core.conn == Conn.CONNECTED:
                self.outdated_record.discard(node.id)
        self.sched.after(self.rng.uniform(0.2, 1.0), self.crm_step)

    # --- checks ------------------------------------------------------------------------------

    def view(self, node: SimNode, block: int) -> int:
        return node.disk.read(block)

    def check_complete(self, node: SimNode, why: str) -> None:
        for block, floor in self.durable_floor.items():
            have = self.view(node, block)
            if have < floor:
                self.fail(
                    f"{node.name} {why} without block {block}'s flushed version {floor} "
                    f"(it has {have})"
                )

    def check_resync(self, target: SimNode, msg: m.SyncData) -> None:
        for i, v in enumerate(versions_of(msg.data)):
            block = msg.block + i
            have = self.view(target, block)
            acked = self.acked.get(block, 0)
            # An acknowledged version replaced by an older one.
            if v < have == acked and (block, have) in self.ever_written and have > 0:
                self.fail(
                    f"resync would overwrite block {block} version {have} "
                    f"(acknowledged) with the older {v} on {target.name}"
                )

    def check(self) -> None:
        n1, n2 = self.nodes[1], self.nodes[2]
        if (
            n1.core is not None
            and n2.core is not None
            and n1.core.role == Role.PRIMARY
            and n2.core.role == Role.PRIMARY
        ):
            self.fail("two Primaries at once")

    # --- faults and healing -------------------------------------------------------------------

    def fault(self) -> None:
        if self.healed:
            return
        rng = self.rng
        kind = rng.choices(
            ["link", "channel", "crash", "power", "both", "disk"], weights=[6, 3, 2, 2, 1, 1]
        )[0]
        node = self.nodes[rng.choice([1, 2])]
        if kind == "link":
            self.link_ok = not self.link_ok
            self.trace(f"fault: replication link {'up' if self.link_ok else 'cut'}")
            if not self.link_ok:
                self.drop_link("link cut")
        elif kind == "channel":
            self.channel_ok = not self.channel_ok
            self.trace(f"fault: outdate channel {'up' if self.channel_ok else 'down'}")
        elif kind in ("crash", "power"):
            if node.core is not None:
                node.crash(power=kind == "power")
                self.sched.after(rng.uniform(0.3, 3.0), self.restart, node)
        elif kind == "both":
            for n in self.nodes.values():
                if n.core is not None:
                    n.crash(power=True)
                    self.sched.after(rng.uniform(0.3, 3.0), self.restart, n)
        elif kind == "disk" and node.core is not None:
            node.disk.failed = True
            self.disk_failed(node)
            self.trace(f"fault: {node.name}'s disk fails")
            self.sched.after(rng.uniform(1.0, 4.0), self.replace_disk, node)

    def replace_disk(self, node: SimNode) -> None:
        """The failed disk is replaced by an empty one while the node is down."""
        if not node.disk.failed:
            return
        node.crash(power=False)
        self.new_disk(node)
        self.sched.after(0.5, self.restart, node)

    def new_disk(self, node: SimNode) -> None:
        node.disk = SimDisk()
        node.bitmap = bytearray(len(node.bitmap))
        node.meta = {
            "current": 0,
            "bitmap_gen": 0,
            "history": [],
            "disk": "Inconsistent",
            "was_primary": False,
            "al": [],
        }

    def disk_failed(self, node: SimNode) -> None:
        """A double fault: flushed versions whose only durable copy was on this disk are
        lost, and nobody can be blamed for not having them."""
        other = self.peer(node).disk
        for block, floor in list(self.durable_floor.items()):
            survivor = other.durable.get(block, 0) if not other.failed else 0
            if survivor < floor:
                self.durable_floor[block] = survivor
                self.acked[block] = min(self.acked.get(block, 0), survivor)

    def restart(self, node: SimNode) -> None:
        if node.core is None:
            node.boot()

    def heal(self) -> None:
        self.healed = True
        self.link_ok = self.channel_ok = True
        self.trace("heal: every fault repaired")
        for node in self.nodes.values():
            if node.disk.failed:
                node.crash(power=False)
                self.new_disk(node)
            if node.core is None:
                node.boot()

    def operator(self) -> None:
        """If no replica has data any more (both disks replaced), the operator starts a
        new data set, as the seed's 7.3 describes; everything written before is gone."""
        cores = [n.core for n in self.nodes.values()]
        no_data = all(
            c is not None and (c.gens.current == 0 or c.disk == Disk.INCONSISTENT) for c in cores
        )
        if no_data:
            self.trace("operator: no complete copy is left; initializing node1 (seed 7.3)")
            self.durable_floor.clear()
            self.acked.clear()
            self.nodes[1].feed(Initialize())
            for node in self.nodes.values():
                if node.core is not None and node.core.conn == Conn.STANDALONE:
                    node.feed(Connect())
        if self.sched.now < self.chaos + self.heal_time - 5:
            self.sched.after(1.0, self.operator)

    def converged(self) -> None:
        n1, n2 = self.nodes[1], self.nodes[2]
        for node in (n1, n2):
            core = node.core
            if core is None:
                self.fail(f"{node.name} is down after healing")
                return
            if core.conn == Conn.STANDALONE:
                self.fail(f"{node.name} is StandAlone after healing: {core.standalone_reason}")
            if core.conn != Conn.CONNECTED or core.disk != Disk.UP_TO_DATE:
                self.fail(f"{node.name} is {core.conn.value}/{core.disk.value} after healing")
        for block in range(BLOCKS):
            a, b = self.view(n1, block), self.view(n2, block)
            if a != b:
                self.fail(f"after healing block {block} differs: node1 {a}, node2 {b}")
        primary = next((n for n in (n1, n2) if n.core and n.core.role == Role.PRIMARY), None)
        if primary is not None:
            self.check_complete(primary, "is Primary after healing")

    def run(self) -> None:
        for node in self.nodes.values():
            node.boot()
        self.sched.after(0.2, self.try_connect)
        self.sched.after(0.5, self.crm_step)
        self.sched.after(1.0, self.app_step)
        t = 1.5
        while t < self.chaos:
            t += self.rng.expovariate(1 / 1.2)
            self.sched.at(t, self.fault)
        self.sched.at(self.chaos, self.heal)
        self.sched.at(self.chaos + 1.0, self.operator)
        self.sched.run(self.chaos + self.heal_time, self.check)
        self.converged()


def run_schedule(seed: int, verbose: bool = False) -> World:
    world = World(seed)
    try:
        world.run()
    finally:
        if verbose:
            print("\n".join(world.log))
    return world


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run replication fault schedules")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--schedules", type=int, default=100)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    seeds = [args.seed] if args.seed is not None else range(args.start, args.start + args.schedules)
    started, steps = time.monotonic(), 0
    for seed in seeds:
        try:
            steps += run_schedule(seed, args.verbose).sched.steps
        except SimulationFailure as exc:
            print(exc, file=sys.stderr)
            return 1
    print(
        f"{len(seeds)} schedules, {steps} steps, all invariants held "
        f"({time.monotonic() - started:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
