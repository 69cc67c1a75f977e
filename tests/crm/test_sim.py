"""The real failover policy (`HaCore`) on both nodes of the membership simulator (issue 6,
DESIGN: protocol logic tested with random fault schedules). The membership simulator's
2,000 schedules in every run give a quarter of them to this core (tests/membership/
test_sim.py); here are the seeds it once failed on, and a check that the schedules
really make it fail over, switch over and give the group up, so that the random runs
are not passing by doing nothing."""

from __future__ import annotations

import pytest

from tandem.membership.sim import ha_settings, run_schedule, settings_for

# Seeds that once found a bug, kept forever.
PINNED = [
    192,  # released the group and started it again on the grant it had just given back
    402,  # a refused switchover request kept the passive node from a later takeover
    909,  # membership restarted beside the running group: the peer claimed and ran it too
    31305,  # a witness grant answering a request sent before a release revived the lease
]


@pytest.mark.parametrize("seed", PINNED)
def test_pinned_seeds(seed: int) -> None:
    run_schedule(seed, ha_settings(seed))


def test_a_quarter_of_the_membership_schedules_run_the_ha_core() -> None:
    assert [settings_for(seed).ha_core for seed in range(8)] == [False, True] + [False] * 3 + [
        True
    ] + [False] * 2


def test_the_schedules_exercise_every_kind_of_move() -> None:
    sentences: list[str] = []
    for seed in range(1, 121, 4):
        sentences += run_schedule(seed, ha_settings(seed)).log
    text = "\n".join(sentences)
    assert "taking over: node" in text and "dead for" in text  # failover of a dead node
    assert "it handed the group over" in text  # switchover
    assert "giving the group up: a member failed" in text  # member failure
    assert "reaches no ping node" in text  # HB-4
    assert "the group is running" in text and "the group is stopped" in text
    assert "membership restarts" in text  # a restart of membership alone, beside the group


def test_replay_is_exact() -> None:
    assert run_schedule(21, ha_settings(21)).log == run_schedule(21, ha_settings(21)).log
