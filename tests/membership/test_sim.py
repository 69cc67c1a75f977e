"""The deterministic simulator (issue 3 acceptance): at least 2,000 random fault schedules
in every run, invariants checked after every step; the count and time are printed; a
failure names its seed and the command that replays it."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from tandem.membership.sim import SimulationFailure, run_schedule, settings_for

SCHEDULES = 2000
# Seeds that once found a bug, kept forever.
PINNED = [0, 10, 14, 252]


@pytest.mark.parametrize("seed", PINNED)
def test_pinned_seeds(seed: int) -> None:
    run_schedule(seed, settings_for(seed))


def run_range(seeds: range) -> tuple[int, str]:
    steps = 0
    for seed in seeds:
        try:
            steps += run_schedule(seed, settings_for(seed)).sched.steps
        except SimulationFailure as exc:
            return steps, str(exc)
    return steps, ""


def test_random_schedules() -> None:
    started = time.monotonic()
    half = SCHEDULES // 2  # one half on each of the machine's two cores
    chunks = [range(10_000, 10_000 + half), range(10_000 + half, 10_000 + SCHEDULES)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run_range, chunks))
    failures = [error for _, error in results if error]
    if failures:
        pytest.fail(failures[0])
    steps = sum(s for s, _ in results)
    took = time.monotonic() - started
    print(f"\nmembership simulator: {SCHEDULES} schedules, {steps} steps, {took:.1f} s")


def test_replay_is_exact() -> None:
    a = run_schedule(4242, settings_for(4242))
    b = run_schedule(4242, settings_for(4242))
    assert a.log == b.log
