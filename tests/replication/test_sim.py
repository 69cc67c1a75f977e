"""The replication core in the deterministic simulator (issue 4 acceptance): at least
2,000 schedules in every run with crashes, power loss of either or both nodes, disk
failures, link cuts, outdate channel loss; invariants checked after every step; the
number and time printed; a failing seed printed with its replay command."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from tandem.replication.sim import SimulationFailure, run_schedule

SCHEDULES = 2000
# Seeds that once found a bug, kept forever.
PINNED = [1, 2, 3, 6, 7, 9, 10, 20, 24, 28, 39, 55, 92, 104, 105, 121, 193, 221, 667]


def run_range(seeds: range) -> tuple[int, str]:
    steps = 0
    for seed in seeds:
        try:
            steps += run_schedule(seed).sched.steps
        except SimulationFailure as exc:
            return steps, str(exc)
    return steps, ""


@pytest.mark.parametrize("seed", PINNED)
def test_pinned_seeds(seed: int) -> None:
    run_schedule(seed)


def test_random_schedules() -> None:
    started = time.monotonic()
    half = SCHEDULES // 2
    chunks = [range(20_000, 20_000 + half), range(20_000 + half, 20_000 + SCHEDULES)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run_range, chunks))
    failures = [error for _, error in results if error]
    if failures:
        pytest.fail(failures[0])
    steps = sum(s for s, _ in results)
    took = time.monotonic() - started
    print(f"\nreplication simulator: {SCHEDULES} schedules, {steps} steps, {took:.1f} s")


def test_replay_is_exact() -> None:
    assert run_schedule(77).log == run_schedule(77).log
