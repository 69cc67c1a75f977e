"""The dirty bitmap (DR-4) and the activity log."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tandem.replication.activity import EXTENT_BLOCKS, ActivityLog
from tandem.replication.bitmap import CHUNK, Bitmap


@given(st.sets(st.integers(0, 3 * CHUNK - 1), max_size=200))
def test_set_iterate_count_and_ranges(blocks: set[int]) -> None:
    bm = Bitmap(3 * CHUNK)
    for b in blocks:
        bm.set(b)
    assert bm.count == len(blocks)
    assert list(bm.iter_set()) == sorted(blocks)
    expanded = [s + i for s, c in bm.ranges() for i in range(c)]
    assert expanded == sorted(blocks)
    restored = Bitmap(3 * CHUNK, bytes(bm.bits))
    assert list(restored.iter_set()) == sorted(blocks)


def test_ranges_set_all_clear_all_and_dirty_pages() -> None:
    bm = Bitmap(100_000)
    bm.set_range(5, 20)
    assert bm.ranges() == [(5, 20)]
    bm.set_all()
    assert bm.count == 100_000
    bm.take_dirty_pages()
    bm.clear_all()
    assert bm.count == 0 and bm.next_set(0) is None
    assert bm.take_dirty_pages()  # the cleared pages must reach the disk


def test_activity_log_keeps_busy_extents_and_evicts_the_oldest() -> None:
    al = ActivityLog(slots=2)
    assert al.missing(range(0, 1)) == [0]
    al.add([0])
    al.add([1])
    assert al.add([2], busy={0}) == [1]  # 0 has writes in flight, 1 goes
    assert al.extents() == [0, 2]
    assert al.missing(range(EXTENT_BLOCKS * 2, EXTENT_BLOCKS * 2 + 1)) == []
