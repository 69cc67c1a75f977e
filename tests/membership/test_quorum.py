"""The grant rules (HB-6) case by case; the simulator checks them under faults."""

from __future__ import annotations

import math

from tandem.membership.quorum import QuorumInputs, decide


def inputs(**kw: object) -> QuorumInputs:
    base: dict[str, object] = {
        "now": 100.0,
        "want": True,
        "witness_configured": True,
        "peer_yield_until": None,
        "peer_vote_until": None,
        "lease_until": 0.0,
        "yield_bound": 0.0,
        "holding": False,
        "peer_fenced": False,
        "ping_ok": True,
    }
    base.update(kw)
    return QuorumInputs(**base)  # type: ignore[arg-type]


def test_peer_yield_grants_until_its_expiry() -> None:
    d = decide(inputs(peer_yield_until=101.5, peer_vote_until=101.5))
    assert (d.granted, d.basis, d.until, d.quorate) == (True, "peer", 101.5, True)


def test_witness_lease_grants_only_after_our_yields_expired() -> None:
    assert decide(inputs(lease_until=102.0, yield_bound=100.5)).granted is False
    d = decide(inputs(lease_until=102.0, yield_bound=99.0))
    assert (d.granted, d.basis, d.votes) == (True, "witness", ("self", "witness"))


def test_no_claim_no_grant_but_quorum() -> None:
    d = decide(inputs(want=False, peer_vote_until=101.0))
    assert (d.granted, d.quorate) == (False, True)
    assert d.reason == "the group is not claimed by this node"


def test_alone_without_witness_vote_is_not_quorate() -> None:
    d = decide(inputs())
    assert (d.granted, d.quorate) == (False, False)
    assert d.reason.startswith("no quorum")


def test_no_witness_holding_continues_while_a_ping_node_answers() -> None:
    d = decide(inputs(witness_configured=False, holding=True))
    assert (d.granted, d.basis, d.until) == (True, "holding", math.inf)
    lost = decide(inputs(witness_configured=False, holding=True, ping_ok=False))
    assert lost.granted is False
    assert lost.reason == "no ping node is reachable"


def test_no_witness_takeover_only_after_fencing() -> None:
    assert decide(inputs(witness_configured=False)).granted is False
    d = decide(inputs(witness_configured=False, peer_fenced=True))
    assert (d.granted, d.basis) == (True, "fenced")


def test_the_longest_basis_wins() -> None:
    d = decide(inputs(peer_yield_until=101.0, peer_vote_until=101.0, lease_until=101.9))
    assert (d.basis, d.until) == ("witness", 101.9)
