"""Two replication cores linked in memory with instant disks: the behaviours the issue
names, one scenario each (DR-1..DR-6)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from tandem.replication.bitmap import BLOCK
from tandem.replication.core import Meta, ReplicaConfig, ReplicaCore
from tandem.replication.events import (
    Action,
    AppFlush,
    AppRead,
    AppWrite,
    Complete,
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
    PeerMsg,
    PeerOutdated,
    PersistMeta,
    Promote,
    RequestOutdate,
    Resolve,
    Send,
    Tick,
    Verify,
)
from tandem.replication.generations import Generations
from tandem.replication.states import Conn, Disk, Role

BLOCKS = 32
ids = itertools.count(1000)


@dataclass
class Node:
    id: int
    core: ReplicaCore
    data: dict[int, bytes] = field(default_factory=dict)
    durable: dict[int, bytes] = field(default_factory=dict)
    completed: dict[int, Complete] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    outdate_requests: list[int] = field(default_factory=list)
    hold_peer_messages: bool = False
    fail_io: bool = False
    held: list[Any] = field(default_factory=list)


class Pair:
    def __init__(self) -> None:
        self.now = 0.0
        self.linked = False
        self.nodes: dict[int, Node] = {}
        for n in (1, 2):
            meta = Meta(Generations(1), Disk.UP_TO_DATE)
            core = ReplicaCore(ReplicaConfig(n, BLOCKS, ack_timeout=5.0), meta, 0.0, ids.__next__)
            self.nodes[n] = Node(n, core)
        self.pending: list[tuple[int, Event]] = []

    def feed(self, n: int, event: Event) -> None:
        self.pending.append((n, event))
        self.run()

    def run(self) -> None:
        while self.pending:
            who, ev = self.pending.pop(0)
            node = self.nodes[who]
            for action in node.core.handle(ev, self.now):
                self.act(node, action)

    def act(self, node: Node, a: Action) -> None:
        if isinstance(a, LocalWrite) and node.fail_io:
            self.pending.append((node.id, IoDone(a.io, ok=False)))
        elif isinstance(a, LocalWrite):
            for i in range(len(a.data) // BLOCK):
                node.data[a.offset // BLOCK + i] = a.data[i * BLOCK : (i + 1) * BLOCK]
            self.pending.append((node.id, IoDone(a.io)))
        elif isinstance(a, LocalFlush):
            node.durable = dict(node.data)
            self.pending.append((node.id, IoDone(a.io)))
        elif isinstance(a, LocalRead):
            first = a.offset // BLOCK
            data = b"".join(
                node.data.get(first + i, bytes(BLOCK)) for i in range(a.length // BLOCK)
            )
            self.pending.append((node.id, IoDone(a.io, True, data)))
        elif isinstance(a, PersistMeta):
            self.pending.append((node.id, IoDone(a.io)))
        elif isinstance(a, Send):
            if not self.linked:
                return
            if self.nodes[3 - node.id].hold_peer_messages:
                self.nodes[3 - node.id].held.append(a.msg)
            else:
                self.pending.append((3 - node.id, PeerMsg(a.msg)))
        elif isinstance(a, Complete):
            node.completed[a.req] = a
        elif isinstance(a, Notice):
            node.notices.append(a.sentence)
        elif isinstance(a, RequestOutdate):
            node.outdate_requests.append(a.token)
        elif isinstance(a, DropLink):
            self.cut()

    def connect(self) -> None:
        """Both ends see the connection before any message travels, as with TCP."""
        self.linked = True
        self.pending += [(1, LinkUp()), (2, LinkUp())]
        self.run()

    def cut(self) -> None:
        if self.linked:
            self.linked = False
            self.pending += [(1, LinkDown("cut")), (2, LinkDown("cut"))]

    def tick(self, seconds: float) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now += 0.1
            self.feed(1, Tick())
            self.feed(2, Tick())

    def write(self, n: int, req: int, block: int, fill: bytes) -> None:
        self.feed(n, AppWrite(req, block * BLOCK, fill * BLOCK))


def connected_pair(primary: int = 1) -> Pair:
    pair = Pair()
    pair.connect()
    pair.feed(primary, Promote())
    assert pair.nodes[primary].core.role == Role.PRIMARY
    return pair


def test_protocol_c_waits_for_the_peer_to_write() -> None:
    pair = connected_pair()
    pair.nodes[2].hold_peer_messages = True
    pair.write(1, 1, 3, b"a")
    assert 1 not in pair.nodes[1].completed  # local done, the peer has not written yet
    held, pair.nodes[2].hold_peer_messages = pair.nodes[2].held, False
    for msg in held:
        pair.feed(2, PeerMsg(msg))
    assert pair.nodes[1].completed[1].ok
    assert pair.nodes[2].data[3] == b"a" * BLOCK
    pair.feed(1, AppFlush(2))
    assert pair.nodes[1].completed[2].ok
    assert pair.nodes[2].durable[3] == b"a" * BLOCK  # the flush made it durable on both


def test_the_secondary_refuses_writes() -> None:
    pair = connected_pair()
    pair.write(2, 1, 0, b"x")
    assert pair.nodes[2].completed[1].error.startswith("EROFS")


def test_lost_peer_freezes_until_outdated_then_resyncs_only_changes() -> None:
    pair = connected_pair()
    pair.write(1, 1, 0, b"a")
    pair.cut()
    pair.feed(1, Tick())
    one = pair.nodes[1]
    assert one.core.frozen and one.outdate_requests == [1]
    pair.write(1, 2, 5, b"b")
    assert 2 not in one.completed  # held: the peer might still be promoted
    pair.feed(1, PeerOutdated(1))
    assert one.completed[2].ok and one.core.gens.bitmap == 1  # a new generation
    for req, block in ((3, 6), (4, 7)):
        pair.write(1, req, block, b"c")
    # Block 0 too: written before the cut, but the peer never flushed it.
    assert list(one.core.bitmap.iter_set()) == [0, 5, 6, 7]
    pair.connect()
    pair.tick(1.0)
    two = pair.nodes[2]
    assert two.core.conn == Conn.CONNECTED and two.core.disk == Disk.UP_TO_DATE
    assert [two.data[b] for b in (5, 6, 7)] == [b"b" * BLOCK, b"c" * BLOCK, b"c" * BLOCK]
    assert one.core.last_sync is not None and one.core.last_sync["bytes"] == 4 * BLOCK
    assert any("resync of 16 KiB" in s for s in one.notices)
    assert two.core.gens.current == one.core.gens.current


def test_consistent_replica_is_promoted_only_with_confirmation() -> None:
    pair = connected_pair()
    pair.cut()
    pair.feed(2, Tick())
    two = pair.nodes[2].core
    assert two.disk == Disk.CONSISTENT
    pair.feed(2, Promote())
    assert two.role == Role.SECONDARY
    assert "not promoted: the local data is Consistent" in pair.nodes[2].notices[-1]
    pair.feed(2, Promote(peer_confirmed=True))
    assert two.role == Role.PRIMARY


def test_a_replica_current_when_the_link_broke_says_so_until_it_reconnects() -> None:
    """The HA loop may promote such data after fencing the peer (crm.core): the peer could
    not have acknowledged a write without it. A restart forgets it (the peer may have
    written alone meanwhile), and so does the next handshake."""
    pair = connected_pair()
    assert pair.nodes[2].core.status()["current_when_lost"] is False  # UpToDate, linked
    pair.cut()
    pair.feed(2, Tick())
    two = pair.nodes[2].core
    assert two.disk == Disk.CONSISTENT and two.status()["current_when_lost"] is True
    # A Primary's own view is never this: it writes on, it does not take over.
    assert pair.nodes[1].core.status()["current_when_lost"] is False
    restarted = ReplicaCore(two.cfg, Meta(two.gens, Disk.UP_TO_DATE), pair.now, ids.__next__)
    assert restarted.disk == Disk.CONSISTENT
    assert restarted.status()["current_when_lost"] is False
    pair.feed(1, PeerOutdated(1))  # the Primary writes on alone: the peer is behind now
    pair.connect()
    pair.tick(1.0)
    assert two.status()["current_when_lost"] is False


def test_split_brain_is_detected_reported_and_resolved_only_by_command() -> None:
    pair = Pair()
    for n in (1, 2):
        pair.feed(n, Promote(force=True))
    pair.write(1, 1, 1, b"1")
    pair.write(2, 1, 2, b"2")
    pair.write(2, 2, 3, b"2")
    pair.feed(2, Demote())
    pair.connect()
    one, two = pair.nodes[1].core, pair.nodes[2].core
    assert one.conn == Conn.STANDALONE and two.conn == Conn.STANDALONE
    assert "split brain: node2 changed 8 KiB and node1 changed 4 KiB" in two.standalone_reason
    assert two.split == {"mine": 2, "peer": 1}
    pair.connect()  # reconnecting by itself does nothing: StandAlone refuses
    assert two.conn == Conn.STANDALONE
    pair.feed(2, Resolve(discard_mine=True))
    pair.feed(1, Resolve(discard_mine=False))
    pair.linked = False
    pair.connect()
    pair.tick(1.0)
    assert two.conn == Conn.CONNECTED and two.disk == Disk.UP_TO_DATE
    assert pair.nodes[2].data[1] == b"1" * BLOCK


def test_verify_finds_and_repairs_a_changed_block() -> None:
    pair = connected_pair()
    pair.write(1, 1, 4, b"v")
    pair.nodes[2].data[4] = b"X" * BLOCK  # the Secondary's backing store changed behind us
    pair.feed(1, Verify())
    pair.tick(2.0)
    one = pair.nodes[1]
    assert any("verify done: 1 of 32 blocks differ" in s for s in one.notices)
    assert pair.nodes[2].data[4] == b"v" * BLOCK
    assert one.core.conn == Conn.CONNECTED


def test_local_disk_failure_serves_through_the_peer() -> None:
    pair = connected_pair()
    pair.write(1, 1, 0, b"d")
    one = pair.nodes[1]
    req = 2
    one.fail_io = True  # the disk under node1 fails
    pair.feed(1, AppWrite(req, 0, b"e" * BLOCK))
    assert one.core.disk == Disk.DISKLESS
    assert one.completed[req].ok  # the peer's copy carries it
    assert any("local disk detached" in s for s in one.notices)
    pair.feed(1, AppRead(3, 0, BLOCK))
    assert one.completed[3].data == b"e" * BLOCK


def fresh_pair() -> Pair:
    """Two replicas just created: no generation, Inconsistent (`tandem volume create`)."""
    pair = Pair()
    for n in (1, 2):
        meta = Meta(Generations(0), Disk.INCONSISTENT)
        core = ReplicaCore(ReplicaConfig(n, BLOCKS, ack_timeout=5.0), meta, 0.0, ids.__next__)
        pair.nodes[n] = Node(n, core)
    return pair


def test_new_replicas_wait_connected_until_one_is_initialized() -> None:
    """Seed 7.3 on a new cluster: both stay Connected and Inconsistent (never promotable),
    then `initialize` on one makes it the data set and the other takes a full sync over
    the same connection."""
    pair = fresh_pair()
    pair.connect()
    one, two = pair.nodes[1].core, pair.nodes[2].core
    assert (one.conn, two.conn) == (Conn.CONNECTED, Conn.CONNECTED)
    assert (one.disk, two.disk) == (Disk.INCONSISTENT, Disk.INCONSISTENT)
    pair.feed(2, Promote())
    assert two.role == Role.SECONDARY
    pair.nodes[1].data[3] = b"x" * BLOCK  # what node1 holds is what counts
    pair.feed(1, Initialize())
    pair.tick(1.0)
    assert (one.conn, two.conn) == (Conn.CONNECTED, Conn.CONNECTED)
    assert (one.disk, two.disk) == (Disk.UP_TO_DATE, Disk.UP_TO_DATE)
    assert pair.nodes[2].data[3] == b"x" * BLOCK
    assert one.last_sync is not None and one.last_sync["bytes"] == BLOCKS * BLOCK
    assert one.gens.current == two.gens.current != 0


def test_initialize_is_refused_when_connected_to_data() -> None:
    pair = Pair()
    pair.connect()
    pair.feed(2, Initialize())
    assert pair.nodes[2].core.gens.current == 1
    assert any("not connected to a peer that has data" in s for s in pair.nodes[2].notices)
