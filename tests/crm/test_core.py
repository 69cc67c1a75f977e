"""The failover policy's rules, one observation at a time (CM-1 to CM-4, HB-4, HB-6)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tandem.crm import core as c

HEALTHY = c.Observation(
    now=100.0,
    me="node1",
    peer="node2",
    peer_state="alive",
    witness=True,
    witness_reachable=True,
    vol_up=True,
    role="Secondary",
    disk="UpToDate",
    conn="Connected",
    peer_disk="UpToDate",
    peer_crm={"active": False, "eligible": True},
    ping_peer=True,
)


def kinds(actions: list[c.Action]) -> list[str]:
    return [type(a).__name__ for a in actions if not isinstance(a, c.Publish)]


def first(actions: list[c.Action], kind: type[Any]) -> Any:
    return next(a for a in actions if isinstance(a, kind))


RUNNING = replace(HEALTHY, group="running", role="Primary", granted=True)


def active_node1() -> tuple[c.HaCore, c.Observation]:
    """node1's HA loop after it has seen itself running the group."""
    core = c.HaCore("node1")
    core.step(RUNNING)
    return core, RUNNING


def test_cold_start_node1_claims_node2_waits() -> None:
    assert first(c.HaCore("node1").step(HEALTHY), c.SetClaim).want is True
    node2 = replace(HEALTHY, me="node2", peer="node1")
    assert "SetClaim" not in kinds(c.HaCore("node2").step(node2))


def test_granted_claim_starts_the_group_with_its_reason() -> None:
    core = c.HaCore("node1")
    core.step(HEALTHY)
    actions = core.step(replace(HEALTHY, granted=True, basis="peer"))
    start = first(actions, c.StartGroup)
    assert start.kind == "start" and "data UpToDate" in start.reason


def test_takeover_when_the_active_peer_is_dead() -> None:
    core = c.HaCore("node2")
    obs = replace(
        HEALTHY,
        me="node2",
        peer="node1",
        peer_state="dead",
        peer_dead_for=2.0,
        peer_crm={},
        conn="Connecting",
        peer_disk=None,
        ping_peer=None,
    )
    assert first(core.step(obs), c.SetClaim).want is True
    start = first(core.step(replace(obs, granted=True, basis="witness")), c.StartGroup)
    assert start.kind == "failover"
    assert start.reason == (
        "taking over: node1 dead for 2.0 s on all paths, quorum held with the witness, "
        "data UpToDate"
    )


def test_no_takeover_on_stale_or_outdated_data() -> None:
    for disk in ("Outdated", "Inconsistent", "Diskless"):
        core = c.HaCore("node2")
        obs = replace(HEALTHY, me="node2", peer="node1", peer_state="dead", disk=disk)
        actions = core.step(replace(obs, granted=True))
        assert "StartGroup" not in kinds(actions) and "SetClaim" not in kinds(actions)
        assert disk in core.eligible(obs)[1]
    core = c.HaCore("node2")
    outdated = replace(
        HEALTHY,
        me="node2",
        peer="node1",
        peer_state="dead",
        conn="Connecting",
        witness_self_outdated=True,
    )
    actions = core.step(replace(outdated, granted=True))
    assert "StartGroup" not in kinds(actions)
    assert "witness records it Outdated" in first(actions, c.OutdateSelf).reason


def test_consistent_data_needs_the_witness() -> None:
    core = c.HaCore("node2")
    obs = replace(
        HEALTHY, me="node2", peer="node1", peer_state="dead", disk="Consistent", conn="Connecting"
    )
    start = first(core.step(obs), c.SetClaim)
    assert start.want is True
    assert first(core.step(replace(obs, granted=True)), c.StartGroup).confirmed is True
    alone = c.HaCore("node2")
    no_witness = replace(obs, witness=False, witness_reachable=False)
    assert "SetClaim" not in kinds(alone.step(no_witness))


def test_the_peer_running_the_group_is_never_contested_and_no_failback() -> None:
    core = c.HaCore("node1")  # the preferred node, back after a failover
    obs = replace(HEALTHY, peer_crm={"active": True, "eligible": True})
    assert "SetClaim" not in kinds(core.step(obs))


def test_ping_lost_on_the_active_node_hands_the_group_over() -> None:
    core, running = active_node1()
    actions = core.step(replace(running, ping_me=False, ping_peer=True))
    stop = first(actions, c.StopGroup)
    assert "reaches no ping node while node2 reaches one" in stop.reason
    after = core.step(replace(running, group="stopped", ping_me=False, ping_peer=True))
    assert "ReportReleased" in kinds(after)
    assert first(after, c.Publish).info["handoff"] is True
    # The peer sees the hand-over and takes the group.
    peer = c.HaCore("node2")
    seen = replace(HEALTHY, me="node2", peer="node1", peer_crm=first(after, c.Publish).info)
    assert first(peer.step(seen), c.SetClaim).want is True


def test_nobody_reaching_a_ping_node_moves_nothing() -> None:
    core, running = active_node1()
    assert "StopGroup" not in kinds(core.step(replace(running, ping_me=False, ping_peer=False)))


def test_switchover_refused_while_the_peer_resyncs_then_accepted() -> None:
    core, running = active_node1()
    syncing = replace(
        running,
        peer_disk="Inconsistent",
        conn="SyncSource",
        sync_done=42.0,
        request=c.Switchover(1),
    )
    answer = first(core.step(syncing), c.Answer)
    assert not answer.accepted
    assert "node2's data is Inconsistent (resync 42% done)" in answer.reason
    answer = first(core.step(replace(running, request=c.Switchover(2))), c.Answer)
    assert answer.accepted
    forced, _ = active_node1()
    assert first(
        forced.step(replace(syncing, request=c.Switchover(3, force=True))), c.Answer
    ).accepted


def test_switchover_asked_on_the_passive_node_goes_to_the_active_one() -> None:
    passive = c.HaCore("node2")
    obs = replace(
        HEALTHY,
        me="node2",
        peer="node1",
        peer_crm={"active": True, "eligible": True},
        request=c.Switchover(7),
    )
    actions = passive.step(obs)
    assert first(actions, c.Answer).accepted
    ask = first(actions, c.Publish).info
    assert ask["ask"] == 7
    active = c.HaCore("node1")
    running = replace(
        HEALTHY, group="running", role="Primary", granted=True, peer_crm={"eligible": True, **ask}
    )
    assert "switchover to node2" in first(active.step(running), c.StopGroup).reason


def test_self_fence_stops_and_reports_released() -> None:
    core, running = active_node1()
    stop = first(core.step(replace(running, self_fence="no quorum")), c.StopGroup)
    assert stop.kind == "self-fence"
    assert "ReportReleased" in kinds(core.step(replace(running, group="stopped")))


def test_a_failed_member_moves_the_group_and_blocks_this_node() -> None:
    core, running = active_node1()
    failed = "container 101 stopped 4 times within 300 s"
    assert (
        "container 101"
        in first(core.step(replace(running, group_failed=failed)), c.StopGroup).reason
    )
    actions = core.step(replace(running, group="stopped", group_failed=failed))
    assert first(actions, c.Publish).info["blocked"] is True
    assert not core.eligible(replace(HEALTHY))[0]
    core.clear()
    assert core.eligible(replace(HEALTHY))[0]


def test_frozen_io_with_a_dead_peer_is_released_only_through_the_witness_record() -> None:
    core = c.HaCore("node1")
    frozen = replace(
        HEALTHY,
        group="running",
        role="Primary",
        granted=True,
        frozen=True,
        peer_state="dead",
        peer_dead_for=3.0,
        conn="Connecting",
        peer_crm={},
    )
    actions = core.step(frozen)
    assert first(actions, c.Publish).outdate_peer is True
    assert "ConfirmPeerOutdated" not in kinds(actions)
    actions = core.step(replace(frozen, witness_peer_outdated=True))
    assert "witness records node2" in first(actions, c.ConfirmPeerOutdated).reason


def test_without_a_witness_the_frozen_primary_fences_then_writes_on() -> None:
    core = c.HaCore("node1")
    frozen = replace(
        HEALTHY,
        group="running",
        role="Primary",
        granted=True,
        frozen=True,
        peer_state="dead",
        conn="Connecting",
        peer_crm={},
        witness=False,
        fencer=True,
    )
    assert "FencePeer" in kinds(core.step(frozen))
    assert "ConfirmPeerOutdated" in kinds(core.step(replace(frozen, peer_fenced=True)))
    unfenced = c.HaCore("node1")
    nothing = replace(frozen, fencer=False)
    assert not {"FencePeer", "ConfirmPeerOutdated"} & set(kinds(unfenced.step(nothing)))


def test_without_a_witness_the_passive_node_fences_a_dead_peer_before_taking_over() -> None:
    core = c.HaCore("node2")
    obs = replace(
        HEALTHY,
        me="node2",
        peer="node1",
        peer_state="dead",
        witness=False,
        witness_reachable=False,
        conn="Connecting",
        fencer=True,
        may_fence_peer=True,
    )
    core.step(obs)
    # Not at once: the node that runs the group gets the first shot (priority delay).
    assert "FencePeer" not in kinds(core.step(replace(obs, peer_dead_for=3.0)))
    assert "fencing node1 if it stays dead for 8 s" in core.last_wait
    late = replace(obs, peer_dead_for=c.PASSIVE_FENCE_DELAY["node2"] + 0.1)
    assert "FencePeer" in kinds(core.step(late))
    assert "FencePeer" not in kinds(c.HaCore("node2").step(replace(late, may_fence_peer=False)))


def test_without_a_witness_the_running_node_fences_a_lost_peer_at_once() -> None:
    """Every path cut, no witness: both nodes would fence; the one that runs the group
    does so at once and keeps the service where it is."""
    core, running = active_node1()
    lost = replace(
        running, peer_state="dead", peer_dead_for=0.1, peer_crm={}, witness=False,
        witness_reachable=False, fencer=True, may_fence_peer=True, conn="Connecting",
    )  # fmt: skip
    assert first(core.step(lost), c.FencePeer).reason.endswith("this node runs the group")
    assert "FencePeer" not in kinds(core.step(lost))  # not again before FENCE_RETRY
    assert "FencePeer" not in kinds(core.step(replace(lost, peer_fenced=True)))
    witnessed, running = active_node1()
    assert "FencePeer" not in kinds(witnessed.step(replace(lost, witness=True)))


def passive_after_the_cut(current_when_lost: bool) -> c.Observation:
    """node2 was Connected and UpToDate; every path to the active node1 is cut."""
    return replace(
        HEALTHY, me="node2", peer="node1", peer_state="dead", peer_dead_for=0.5,
        peer_crm={}, witness=False, witness_reachable=False, fencer=True,
        may_fence_peer=True, conn="Connecting", disk="Consistent", peer_disk=None,
        current_when_lost=current_when_lost, granted=False,
    )  # fmt: skip


def test_data_current_when_the_peer_was_lost_takes_over_only_after_the_fence() -> None:
    core = c.HaCore("node2")
    cut = passive_after_the_cut(True)
    assert first(core.step(cut), c.SetClaim).want  # eligible: it will fence the peer
    late = replace(cut, peer_dead_for=9.0)
    assert "FencePeer" in kinds(core.step(late))
    # Granted (membership's basis would be the fence) but the fence is not confirmed yet:
    # Consistent data is not promoted.
    assert "StartGroup" not in kinds(core.step(replace(late, granted=True, basis="fenced")))
    fenced = replace(late, granted=True, basis="fenced", peer_fenced=True)
    start = first(core.step(fenced), c.StartGroup)
    assert start.confirmed and start.kind == "failover"
    assert "node1 fenced" in start.reason and "data Consistent" in start.reason


def test_data_of_a_node_that_booted_without_its_peer_is_never_promoted_by_fencing() -> None:
    """After a restart the engine cannot know what the peer wrote meanwhile: no claim, so
    no fence (a node must not fence a peer it will not replace)."""
    core = c.HaCore("node2")
    booted = replace(passive_after_the_cut(False), peer_dead_for=30.0)
    actions = core.step(booted)
    assert not {"SetClaim", "FencePeer", "StartGroup"} & set(kinds(actions))
    assert "booted without its peer" in core.eligible(booted)[1]


def test_a_step_that_releases_the_group_does_not_start_it_on_the_grant_given_back() -> None:
    """The observation's grant answers the claim as it was; after a release in the same
    step it is stale (the simulator found a node running the group without a grant)."""
    core, running = active_node1()
    stop = core.step(replace(running, ping_me=False, ping_peer=True))
    assert "StopGroup" in kinds(stop)
    # Stopped; in the meantime the peer died, and membership still shows the old grant.
    stopped = replace(running, group="stopped", peer_state="dead", peer_crm={}, ping_peer=None)
    actions = core.step(stopped)
    assert "ReportReleased" in kinds(actions)
    assert "StartGroup" not in kinds(actions)
    # The next step reads the grant for the new claim, and only then starts.
    assert "StartGroup" in kinds(core.step(replace(stopped, granted=True)))


def test_a_refused_switchover_request_does_not_keep_the_node_from_a_later_takeover() -> None:
    """The simulator found it: node1 asked for a switchover, node2 refused; later node2's
    group failed, and node1 never claimed it because the old refusal still stood."""
    core = c.HaCore("node1")
    active_peer = replace(HEALTHY, peer_crm={"active": True, "eligible": True})
    asked = core.step(replace(active_peer, request=c.Switchover(5)))
    assert first(asked, c.Answer).accepted
    refused = {"active": True, "eligible": True, "answer_to": 5, "answer": "refused"}
    assert "SetClaim" not in kinds(core.step(replace(HEALTHY, peer_crm=refused)))
    failed = {"active": False, "eligible": False, "blocked": True, "answer_to": 5,
              "why_not": "the group failed here"}  # fmt: skip
    assert first(core.step(replace(HEALTHY, peer_crm=failed)), c.SetClaim).want is True


# --- a restart of membership beside the group (found in the lab: a ping-node change from
# the web restarts membership on both nodes; node2 claimed and was granted beside node1) --


def test_an_alive_peer_whose_failover_logic_is_silent_is_not_contested() -> None:
    silent = replace(HEALTHY, peer_crm={})
    core = c.HaCore("node1")
    assert "SetClaim" not in kinds(core.step(silent))
    assert "node2's failover logic does not answer" in core.last_wait
    node2 = replace(silent, me="node2", peer="node1")
    assert "SetClaim" not in kinds(c.HaCore("node2").step(node2))


def test_a_claim_membership_forgot_is_made_again_and_nothing_starts_on_it() -> None:
    core, running = active_node1()
    assert core.claim
    actions = core.step(replace(running, claimed=False, granted=False))
    assert first(actions, c.SetClaim).want is True
    assert not {"StartGroup", "StopGroup"} & set(kinds(actions))


def test_an_idle_node_told_to_give_up_says_released_at_once() -> None:
    core = c.HaCore("node2")
    fence = replace(HEALTHY, me="node2", peer="node1", claimed=False, self_fence="not claimed")
    actions = core.step(fence)
    assert "ReportReleased" in kinds(actions)
    assert not any(isinstance(a, c.SetClaim) and a.want for a in actions)
