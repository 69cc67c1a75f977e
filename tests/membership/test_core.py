"""Two membership cores linked in memory, with a hand-driven clock (h11's style): the
Heartbeat semantics (HB-2, HB-3), claims and yields (HB-6), replays (HB-5), the watchdog."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tandem.errors import UsageError
from tandem.membership.core import CoreConfig, MembershipCore
from tandem.membership.events import (
    Action,
    BeatReceived,
    Event,
    HardReset,
    Notice,
    PingResult,
    Released,
    SelfFence,
    SendBeat,
    SendWitness,
    Tick,
    Want,
    WitnessReplied,
)
from tandem.membership.wire import PathName

PATHS: tuple[PathName, ...] = ("serial", "crossover", "external")


def config(node: int, **kw: Any) -> CoreConfig:
    base: dict[str, Any] = {
        "node": node,
        "paths": PATHS,
        "keepalive": 0.2,
        "warntime": 1.0,
        "deadtime": 2.0,
        "initdead": 4.0,
        "margin": 0.1,
        "ping_nodes": ("10.0.0.1",),
    }
    base.update(kw)
    return CoreConfig(**base)


@dataclass
class Pair:
    """node1 and node2 on a perfect network, except for the paths in `cut`."""

    now: float = 0.0
    cut: set[str] = field(default_factory=set)
    notices: list[tuple[int, str]] = field(default_factory=list)
    actions: list[tuple[int, Action]] = field(default_factory=list)
    cores: dict[int, MembershipCore] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for n in (1, 2):
            self.cores[n] = MembershipCore(config(n, witness=False), 1, self.now)

    def feed(self, n: int, event: Event) -> None:
        """Handle `event` on node n and deliver every beat that follows, in order."""
        pending: list[tuple[int, Event]] = [(n, event)]
        while pending:
            who, ev = pending.pop(0)
            for action in self.cores[who].handle(ev, self.now):
                self.actions.append((who, action))
                if isinstance(action, Notice):
                    self.notices.append((who, action.sentence))
                elif isinstance(action, SendBeat):
                    gen = self.cores[who].generation
                    for path in action.paths:
                        if path not in self.cut:
                            beat = BeatReceived(path, gen, action.seq, action.body)
                            pending.append((3 - who, beat))

    def run(self, seconds: float, step: float = 0.05) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now = round(self.now + step, 6)
            for n in (1, 2):
                self.feed(n, Tick())

    def said(self, n: int, text: str) -> bool:
        return any(n == who and text in sentence for who, sentence in self.notices)


def test_peers_see_each_other_on_every_path() -> None:
    pair = Pair()
    pair.run(1.0)
    for n in (1, 2):
        core = pair.cores[n]
        assert core.peer_state == "alive"
        assert set(core.path_state.values()) == {"up"}
    assert pair.said(1, "peer node2 alive")


def test_one_path_lost_is_an_event_not_a_death() -> None:
    pair = Pair()
    pair.run(1.0)
    pair.cut = {"crossover", "serial"}
    pair.run(3.0)
    core = pair.cores[1]
    assert core.peer_state == "alive"
    assert core.path_state == {"serial": "down", "crossover": "down", "external": "up"}
    assert pair.said(1, "path crossover to node2 down: nothing for 2 s")


def test_all_paths_lost_the_peer_is_dead_within_deadtime_plus_a_keepalive() -> None:
    pair = Pair()
    pair.run(1.0)
    pair.cut = set(PATHS)
    cut_at = pair.now
    while pair.cores[1].peer_state != "dead":
        pair.run(0.05)
        assert pair.now - cut_at <= 2.0 + 0.2
    assert pair.said(1, "peer node2 dead: nothing on serial, crossover or external for 2 s")


def test_a_booting_node_waits_initdead() -> None:
    lonely = MembershipCore(config(1), 1, 0.0)
    lonely.handle(Tick(), 3.9)
    assert lonely.peer_state == "unknown"
    out = lonely.handle(Tick(), 4.0)
    assert lonely.peer_state == "dead"
    assert any(isinstance(a, Notice) and "for 4 s" in a.sentence for a in out)


def test_late_heartbeat_warns_once() -> None:
    pair = Pair()
    pair.run(1.0)
    pair.cut = set(PATHS)
    pair.run(1.5)
    pair.cut = set()
    pair.run(0.5)
    late = [s for n, s in pair.notices if n == 1 and s.startswith("late heartbeat")]
    assert len(late) == 1


def test_claim_is_granted_when_the_peer_yields() -> None:
    pair = Pair()
    pair.run(1.0)
    pair.feed(1, Want(True))
    pair.run(0.5)
    assert pair.cores[1].decision.granted
    assert pair.cores[1].decision.basis in ("peer", "holding")
    assert not pair.cores[2].decision.granted
    assert pair.said(1, "node1 may run the service group: the peer yields to this node")


def test_simultaneous_claims_node1_wins_the_tie() -> None:
    pair = Pair()
    pair.run(1.0)
    pair.feed(1, Want(True))
    pair.feed(2, Want(True))
    pair.run(1.0)
    assert pair.cores[1].decision.granted
    assert not pair.cores[2].decision.granted


def test_a_granted_node_keeps_the_group_when_the_other_claims() -> None:
    pair = Pair()
    pair.run(1.0)
    pair.feed(2, Want(True))
    pair.run(0.5)
    assert pair.cores[2].decision.granted
    pair.feed(1, Want(True))
    pair.run(2.0)
    assert pair.cores[2].decision.granted
    assert not pair.cores[1].decision.granted


def test_replayed_and_disabled_path_packets_are_counted() -> None:
    core = MembershipCore(config(1), 1, 0.0)
    body = {
        "ack": 0,
        "ack_gen": 0,
        "claim": False,
        "claim_seq": 0,
        "granted": False,
        "yield": False,
        "yield_to": 0,
        "hears": False,
        "ping": {},
        "cfg": "",
    }
    core.handle(BeatReceived("crossover", 3, 10, body), 0.1)
    core.handle(BeatReceived("crossover", 3, 10, body), 0.2)  # the same packet again
    core.handle(BeatReceived("crossover", 2, 99, body), 0.3)  # an older life
    core.handle(BeatReceived("crossover", 3, 11, {**body, "ack": "x"}), 0.4)
    assert core.dropped == {"replay": 2, "malformed": 1}
    no_serial = MembershipCore(config(1, paths=("crossover",)), 1, 0.0)
    no_serial.handle(BeatReceived("serial", 3, 1, body), 0.1)
    assert no_serial.dropped == {"disabled-path": 1}


def test_losing_the_ping_node_without_witness_self_fences_then_resets() -> None:
    pair = Pair()
    pair.run(1.0)
    pair.feed(1, PingResult("10.0.0.1", True))
    pair.feed(1, Want(True))
    pair.run(0.5)
    assert pair.cores[1].decision.granted
    pair.cut = set(PATHS)
    pair.run(3.0)
    assert pair.cores[1].decision.basis == "holding"  # HB-4: still reaches the ping node
    pair.feed(1, PingResult("10.0.0.1", False))
    fence = [a for n, a in pair.actions if n == 1 and isinstance(a, SelfFence)]
    assert len(fence) == 1
    assert "no ping node is reachable" in fence[0].reason
    pair.run(1.5)  # nobody releases the services: the watchdog resets the node
    resets = [a for n, a in pair.actions if n == 1 and isinstance(a, HardReset)]
    assert len(resets) == 1


def test_ping_loss_alone_does_not_revoke_a_grant_the_peer_supports() -> None:
    pair = Pair()
    pair.run(1.0)
    pair.feed(1, PingResult("10.0.0.1", True))
    pair.feed(1, Want(True))
    pair.run(0.5)
    pair.feed(1, PingResult("10.0.0.1", False))
    pair.run(1.0)
    # HB-4 is the failover logic's decision: membership reports, it does not fence.
    assert pair.cores[1].decision.granted
    assert pair.cores[2].peer_ping() == {"10.0.0.1": False}


def test_released_in_time_means_no_reset() -> None:
    pair = Pair()
    pair.run(1.0)
    pair.feed(1, PingResult("10.0.0.1", True))
    pair.feed(1, Want(True))
    pair.run(0.5)
    pair.cut = set(PATHS)
    pair.run(3.0)
    pair.feed(1, PingResult("10.0.0.1", False))
    pair.feed(1, Released())
    pair.run(2.0)
    assert not [a for n, a in pair.actions if isinstance(a, HardReset)]
    # and it can claim again later
    pair.feed(1, PingResult("10.0.0.1", True))
    pair.feed(1, Want(True))


def test_cannot_claim_during_a_self_fence() -> None:
    pair = Pair()
    pair.run(1.0)
    pair.feed(1, PingResult("10.0.0.1", True))
    pair.feed(1, Want(True))
    pair.run(0.5)
    pair.cut = set(PATHS)
    pair.run(3.0)
    pair.feed(1, PingResult("10.0.0.1", False))
    with pytest.raises(UsageError, match="self-fence"):
        pair.feed(1, Want(True))


def test_misuse_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        MembershipCore(config(3), 1, 0.0)
    with pytest.raises(UsageError):
        MembershipCore(config(1), 0, 0.0)


def test_a_new_life_yields_only_after_its_failover_logic_has_spoken() -> None:
    """A membership restarted beside a running group must not promise the group away
    before its HA loop has said whether it runs it (await_crm, the daemon's setting)."""
    pair = Pair()
    pair.cores[2] = MembershipCore(config(2, witness=False, await_crm=True), 1, 0.0)
    pair.run(1.0)
    pair.feed(1, Want(True))
    pair.run(1.0)
    assert not pair.cores[1].decision.granted, "node2 yielded before its HA loop spoke"
    pair.cores[2].set_crm_info({"active": False, "eligible": True}, None)
    pair.run(1.0)
    assert pair.cores[1].decision.granted


def test_a_grant_answering_a_request_sent_before_a_release_is_void() -> None:
    """Seed 31305 of the simulator: node1 renewed the witness's lease and released it in
    the same instant; the renewal's grant came back after the release and revived the
    lease locally, while the witness had let it go (and then gave it to node2). node1
    claimed on that ghost lease and ran the group beside node2."""
    pair = Pair()
    for n in (1, 2):
        pair.cores[n] = MembershipCore(config(n, witness=True), 1, pair.now)
    pair.run(5.0)
    one = pair.cores[1]

    def requests() -> list[SendWitness]:
        return [a for who, a in pair.actions if who == 1 and isinstance(a, SendWitness)]

    def reply(req: SendWitness, seq: int) -> None:
        body = {"echo_gen": one.generation, "echo_req": req.seq, "granted": True,
                "lease": 3.0, "holder": 1}  # fmt: skip
        pair.feed(1, WitnessReplied(7, seq, body))

    pair.feed(1, Want(True))
    pair.run(0.5)
    for i, req in enumerate(requests(), start=1):
        reply(req, i)
    assert one.lease_until > pair.now
    pair.run(0.25)
    late = requests()[-1]  # a renewal whose answer is still on its way
    pair.feed(1, Want(False))
    pair.feed(1, Released())
    pair.run(0.3)
    release = next(r for r in requests() if r.body["release"])
    assert release.seq > late.seq and one.lease_until == 0.0
    reply(late, 1000)
    assert one.lease_until == 0.0, "a grant sent before the release revived the lease"
    pair.feed(1, Want(True))
    pair.run(0.3)
    fresh = next(r for r in requests() if r.seq > release.seq and not r.body["release"])
    reply(fresh, 1001)
    assert one.lease_until > pair.now  # a request after the release may be granted again
