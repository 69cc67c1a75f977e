"""DR-5: who syncs from whom; the newer generation is never overwritten (invariant 4)."""

from __future__ import annotations

from tandem.replication.generations import Generations, decide

BASE = Generations(100)


def test_same_generation_nothing_to_do() -> None:
    assert decide(BASE, BASE).direction == "none"


def test_the_replica_that_wrote_alone_is_the_source() -> None:
    alone = BASE.started_alone(200)
    assert (alone.current, alone.bitmap) == (200, 100)
    assert decide(alone, BASE).direction == "source"
    assert decide(BASE, alone).direction == "target"
    assert not decide(BASE, alone).full


def test_writing_alone_twice_keeps_the_bitmap_base() -> None:
    twice = BASE.started_alone(200).started_alone(300)
    assert twice.bitmap == 100
    assert decide(twice, BASE).direction == "source"


def test_both_wrote_alone_is_split_brain() -> None:
    a, b = BASE.started_alone(200), BASE.started_alone(300)
    assert decide(a, b).direction == "split-brain"
    assert decide(b, a).direction == "split-brain"


def test_far_behind_needs_a_full_sync() -> None:
    synced = BASE.started_alone(200).synced_with(200).started_alone(300).synced_with(300)
    assert BASE.current in synced.history
    d = decide(BASE, synced)
    assert (d.direction, d.full) == ("target", True)


def test_no_data_takes_everything_and_strangers_are_refused() -> None:
    empty = Generations(0)
    assert decide(empty, BASE).direction == "target"
    assert decide(BASE, empty).direction == "source"
    assert decide(Generations(7), Generations(8)).direction == "unrelated"
