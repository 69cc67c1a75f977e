"""Quorum and the grant: "may this node run the service group now?" (HB-6).

Three votes exist: this node, the peer and (optionally) the witness. The grant is the
exclusive right to run the service group; the rules below make it impossible for both
nodes to hold it at once (DESIGN invariant 1), without synchronised clocks: every expiry
is computed on the deciding node's own clock from its own send times. docs/membership.md
has the argument and the cases; this module only evaluates the rules.

A grant has one or more bases, each valid until a time:
- "peer": the peer yields to our claim. Valid until our send time of the beat the peer
  acknowledged in that yield, plus deadtime, minus a margin: the peer promised not to be
  granted before it had heard nothing from us for deadtime after that beat.
- "witness": we hold the witness's lease, and every yield we gave has expired at the peer
  (`yield_bound`). Valid until our request's send time plus the lease, minus the margin.
- "holding" (no witness only): we were granted and still reach a ping node; the peer can
  only take over by fencing us, and a node that just booted never fences (wait-for-all).
- "fenced" (no witness only): the peer was fenced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class QuorumInputs:
    now: float
    want: bool
    witness_configured: bool
    peer_yield_until: float | None  # from the peer's latest beat, if it yields to our claim
    peer_vote_until: float | None  # the peer acknowledges our beats until then
    lease_until: float  # witness lease, 0 if none
    yield_bound: float  # no witness-based grant before this (our yields must expire)
    holding: bool  # granted at the previous evaluation
    peer_fenced: bool
    ping_ok: bool  # we reach at least one ping node (or none is configured)


@dataclass(frozen=True)
class Decision:
    granted: bool
    basis: str  # "peer", "witness", "holding", "fenced", or "" when not granted
    until: float  # when the grant ends unless renewed (inf: no end by itself); 0 if not
    quorate: bool
    votes: tuple[str, ...]  # "self", "peer", "witness"
    reason: str  # one clause an operator can read


def decide(q: QuorumInputs) -> Decision:
    votes = ["self"]
    peer_vote = q.peer_vote_until is not None and q.now < q.peer_vote_until
    lease = q.witness_configured and q.now < q.lease_until
    if peer_vote:
        votes.append("peer")
    if lease:
        votes.append("witness")
    if q.witness_configured:
        quorate = len(votes) >= 2
    else:
        quorate = peer_vote or (q.holding and q.ping_ok) or q.peer_fenced

    bases: list[tuple[str, float]] = []
    if q.want:
        if q.peer_yield_until is not None and q.now < q.peer_yield_until:
            bases.append(("peer", q.peer_yield_until))
        if lease and q.now >= q.yield_bound:
            bases.append(("witness", q.lease_until))
        if not q.witness_configured and q.ping_ok:
            if q.holding:
                bases.append(("holding", math.inf))
            if q.peer_fenced:
                bases.append(("fenced", math.inf))
    if bases:
        basis, until = max(bases, key=lambda b: b[1])
        return Decision(True, basis, until, quorate, tuple(votes), _granted_reason(basis))
    return Decision(False, "", 0.0, quorate, tuple(votes), _refusal(q, quorate, lease))


def _granted_reason(basis: str) -> str:
    return {
        "peer": "the peer yields to this node",
        "witness": "the witness's lease is held",
        "holding": "this node runs the group and reaches a ping node (no witness)",
        "fenced": "the peer was fenced",
    }[basis]


def _refusal(q: QuorumInputs, quorate: bool, lease: bool) -> str:
    if not q.want:
        return "the group is not claimed by this node"
    if lease and q.now < q.yield_bound:
        return "waiting until this node's last yield to the peer has expired"
    if q.witness_configured:
        if quorate:
            return "the peer has not yielded and the witness's lease is held elsewhere"
        return "no quorum: neither the peer nor the witness votes for this node"
    if not q.ping_ok:
        return "no ping node is reachable"
    return "the peer has not yielded; without a witness only fencing allows a takeover"
