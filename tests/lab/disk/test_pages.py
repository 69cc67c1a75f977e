"""One file's unflushed data (pages.FileData) against plain bytes: random writes,
truncates and flushes; reads must always see the current contents, and carrying out a
flush plan on the durable bytes must give exactly the current contents."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tandem.lab.disk.pages import FileData
from tandem.lab.disk.types import PAGE

OFFSETS = st.one_of(st.integers(0, 4 * PAGE), st.sampled_from([0, PAGE - 1, PAGE, 2 * PAGE]))
SIZES = st.one_of(st.integers(0, 5 * PAGE), st.sampled_from([0, 1, PAGE - 1, PAGE, PAGE + 1]))


class PagesMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.durable = bytearray(b"D" * 3000)  # what the store holds
        self.current = bytes(self.durable)
        self.file = FileData(len(self.durable))
        self.reads = 0
        self.stamp = 0

    def base(self, offset: int, size: int) -> bytes:
        self.reads += 1
        assert offset + size <= len(self.durable), "read past the durable contents"
        return bytes(self.durable[offset : offset + size])

    @rule(offset=OFFSETS, length=st.integers(1, 3 * PAGE))
    def write(self, offset: int, length: int) -> None:
        self.stamp += 1
        chunk = bytes((self.stamp + i) % 250 + 1 for i in range(length))
        self.file.write(offset, chunk, self.base)
        old = self.current.ljust(offset, b"\0")
        self.current = old[:offset] + chunk + old[offset + length :]

    @rule(size=SIZES)
    def truncate(self, size: int) -> None:
        self.file.truncate(size)
        self.current = self.current[:size].ljust(size, b"\0")

    @rule()
    def flush(self) -> None:
        plan = self.file.flush_plan()
        if plan.cut is not None:
            del self.durable[plan.cut :]
        for offset, buffers in plan.runs:
            for buffer in buffers:
                if len(self.durable) < offset:  # pwrite past the end leaves a hole of zeros
                    self.durable.extend(bytes(offset - len(self.durable)))
                self.durable[offset : offset + len(buffer)] = buffer
                offset += len(buffer)
        if plan.resize is not None:
            self.durable = self.durable[: plan.resize].ljust(plan.resize, b"\0")
        self.file.flushed()
        assert bytes(self.durable) == self.current
        assert not self.file.dirty

    @rule(offset=OFFSETS, size=st.integers(0, 3 * PAGE))
    def read_some(self, offset: int, size: int) -> None:
        assert self.file.read(offset, size, self.base) == self.current[offset : offset + size]

    @invariant()
    def reads_see_the_current_contents(self) -> None:
        assert self.file.size == len(self.current)
        assert self.file.read(0, len(self.current) + 10, self.base) == self.current

    @invariant()
    def dirty_pages_hold_zeros_past_the_end(self) -> None:
        for index, page in self.file.pages.items():
            start = index * PAGE
            assert start < max(self.file.size, 1) or not any(page)
            if start + PAGE > self.file.size:
                assert not any(page[max(0, self.file.size - start) :])


TestPages = PagesMachine.TestCase
TestPages.settings = settings(max_examples=300, stateful_step_count=30, deadline=None)


def test_aligned_writes_never_read_the_durable_contents() -> None:
    reads = []
    data = FileData(10 * PAGE)
    data.write(PAGE, b"x" * (3 * PAGE), lambda o, n: reads.append((o, n)) or bytes(n))
    assert reads == []
    assert data.dirty_bytes == 3 * PAGE


def test_a_flush_writes_contiguous_pages_in_one_run() -> None:
    data = FileData(0)
    data.write(0, b"a" * (2 * PAGE), lambda o, n: bytes(n))
    data.write(5 * PAGE, b"b" * 10, lambda o, n: bytes(n))
    plan = data.flush_plan()
    assert [(off, [len(b) for b in bufs]) for off, bufs in plan.runs] == [
        (0, [PAGE, PAGE]),
        (5 * PAGE, [10]),
    ]
    assert plan.cut is None and plan.resize is None
