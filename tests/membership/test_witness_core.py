"""The witness's lease: exclusive, a restart grace, a head start for the active side."""

from __future__ import annotations

from tandem.membership.witness_core import WitnessCore

LEASE = 2.0


def ask(w: WitnessCore, node: int, seq: int, now: float, **body: object) -> bool:
    reply = w.request(node, 1, seq, {"want": True, **body}, now)
    assert reply is not None
    return bool(reply["granted"])


def test_restart_grace_then_exclusive_lease() -> None:
    w = WitnessCore(lease=LEASE, now=0.0, head_start=0.5)
    assert not ask(w, 1, 1, 1.0)  # a just-started witness grants nothing
    assert ask(w, 1, 2, 2.0)
    assert not ask(w, 2, 1, 3.0)  # held by node1
    assert ask(w, 1, 3, 3.5)  # renewed
    assert not ask(w, 2, 2, 5.4)
    assert ask(w, 2, 3, 5.6)  # node1's lease ran out at 5.5


def test_release_hands_the_vote_back() -> None:
    w = WitnessCore(lease=LEASE, now=-10.0, head_start=0.5)
    assert ask(w, 1, 1, 0.0)
    assert not ask(w, 1, 2, 0.1, release=True)
    assert ask(w, 2, 1, 0.2)


def test_head_start_for_the_node_that_runs_the_group() -> None:
    w = WitnessCore(lease=LEASE, now=-10.0, head_start=0.5)
    w.request(1, 1, 1, {"want": True, "probe": True}, 0.0)  # node1 runs the group
    assert not ask(w, 2, 1, 0.2, want=False)  # node2 only wants to know: waits
    assert ask(w, 1, 2, 0.3)
    assert ask(w, 2, 2, 1.0, want=False) is False  # still node1's lease


def test_probes_change_nothing() -> None:
    w = WitnessCore(lease=LEASE, now=-10.0, head_start=0.5)
    assert not ask(w, 1, 1, 0.0, probe=True)
    assert w.holder == 0


def test_replays_are_dropped_and_counted() -> None:
    w = WitnessCore(lease=LEASE, now=-10.0, head_start=0.5)
    assert w.request(1, 5, 10, {"want": True}, 0.0) is not None
    assert w.request(1, 5, 10, {"want": True}, 0.1) is None
    assert w.request(1, 4, 99, {"want": True}, 0.2) is None  # an earlier life of node1
    assert w.dropped == {"replay": 2}


def test_only_the_holder_records_its_peer_outdated_and_both_learn_it() -> None:
    """The volume's fence-peer through the witness (DR-3, docs/failover.md)."""
    from tandem.membership.witness_core import WitnessCore

    w = WitnessCore(lease=3.0, now=0.0, head_start=0.5)
    now = 10.0
    reply = w.request(1, 1, 1, {"want": True, "outdate_peer": True}, now)
    assert reply is not None and reply["granted"] and reply["peer_outdated"] is True
    assert w.outdated == {2}
    # node2 does not hold the vote: its word about node1 is ignored; it learns its record.
    told = w.request(2, 1, 1, {"want": True, "outdate_peer": True}, now + 0.1)
    assert told is not None and told["granted"] is False and told["self_outdated"] is True
    assert w.outdated == {2}
    # The holder clears it once the peer is current again.
    cleared = w.request(1, 1, 2, {"want": True, "outdate_peer": False}, now + 0.2)
    assert cleared is not None and cleared["peer_outdated"] is False and w.outdated == set()
