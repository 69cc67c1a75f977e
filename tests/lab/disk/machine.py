"""A hypothesis state machine: random file operations and power cuts against a disk
driver, checked after every step against the reference model (reference.py).

After every step the disk must show what the reference shows now, and the store (the
node's real directory) must hold exactly what the reference says was flushed: not only
after a power cut, at every moment. A power cut is one of the random steps, so each
run also checks that work goes on correctly on what the disk kept.
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tandem.lab.disk.types import PAGE
from tests.lab.disk.drivers import Driver
from tests.lab.disk.reference import Reference

NAMES = ("a", "b", "c")
OFFSETS = st.one_of(
    st.integers(0, 3 * PAGE + 100), st.sampled_from([0, PAGE, 2 * PAGE, PAGE - 1, PAGE + 1])
)
LENGTHS = st.one_of(st.integers(1, 2 * PAGE + 10), st.sampled_from([PAGE, 2 * PAGE, 1, 7]))
SIZES = st.one_of(st.integers(0, 4 * PAGE + 10), st.sampled_from([0, PAGE, PAGE + 1, 5]))


class DiskMachine(RuleBasedStateMachine):
    """Every rule picks among the legal moves only (an `assume` would throw the whole run
    away), so runs are long and most steps touch data."""

    driver: Driver  # set by the subclass's __init__ before calling super().__init__()

    def __init__(self) -> None:
        super().__init__()
        self.ref = Reference()
        self.handles: dict[int, int] = {}  # driver handle -> reference inode
        self.stamp = 0

    # --- choosing legal moves -------------------------------------------------------------

    def _free_paths(self, max_depth: int = 2) -> list[str]:
        parents = [""] + [d for d in self.ref.dirs() if d.count("/") < max_depth - 1]
        paths = [f"{p}/{n}" if p else n for p in parents for n in NAMES]
        return [p for p in paths if p not in self.ref.names]

    def _rename_targets(self, source: str) -> list[str]:
        is_dir = self.ref.names[source] is None
        parents = [""] + [d for d in self.ref.dirs() if d.count("/") < 1]
        targets = []
        for target in (f"{p}/{n}" if p else n for p in parents for n in NAMES):
            if target == source or target.startswith(source + "/"):
                continue
            if target in self.ref.names:
                if (self.ref.names[target] is None) != is_dir:
                    continue
                if is_dir and self.ref.children(target):
                    continue
            targets.append(target)
        return targets

    def _chunk(self, length: int) -> bytes:
        self.stamp += 1
        return bytes((self.stamp * 7 + i) % 251 + 1 for i in range(length))

    def _handle(self, data: st.DataObject) -> int:
        return data.draw(st.sampled_from(sorted(self.handles)))

    # --- namespace -------------------------------------------------------------------------

    @rule(data=st.data())
    def create_and_open(self, data: st.DataObject) -> None:
        free = self._free_paths()
        if not free:
            return
        path = data.draw(st.sampled_from(free))
        self.driver.create(path)
        self.ref.create(path)
        ino = self.ref.names[path]
        assert ino is not None
        self.handles[self.driver.open(path)] = ino

    @precondition(lambda self: len(self.ref.dirs()) < 3)
    @rule(data=st.data())
    def mkdir(self, data: st.DataObject) -> None:
        free = self._free_paths()
        if not free:
            return
        path = data.draw(st.sampled_from(free))
        self.driver.mkdir(path)
        self.ref.mkdir(path)

    @precondition(lambda self: self.ref.files())
    @rule(data=st.data())
    def unlink(self, data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(self.ref.files()))
        self.driver.unlink(path)
        self.ref.unlink(path)

    @precondition(lambda self: self.ref.dirs())
    @rule(data=st.data())
    def rmdir(self, data: st.DataObject) -> None:
        empty = [d for d in self.ref.dirs() if not self.ref.children(d)]
        if not empty:
            return
        path = data.draw(st.sampled_from(empty))
        self.driver.rmdir(path)
        self.ref.rmdir(path)

    @precondition(lambda self: self.ref.names)
    @rule(data=st.data())
    def rename(self, data: st.DataObject) -> None:
        source = data.draw(st.sampled_from(sorted(self.ref.names)))
        targets = self._rename_targets(source)
        if not targets:
            return
        target = data.draw(st.sampled_from(targets))
        self.driver.rename(source, target)
        self.ref.rename(source, target)

    # --- data ------------------------------------------------------------------------------

    @precondition(lambda self: self.ref.files())
    @rule(data=st.data())
    def open(self, data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(self.ref.files()))
        ino = self.ref.names[path]
        assert ino is not None
        self.handles[self.driver.open(path)] = ino

    @precondition(lambda self: self.handles)
    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        handle = self._handle(data)
        self.driver.close(handle)
        del self.handles[handle]

    @precondition(lambda self: self.handles)
    @rule(data=st.data(), offset=OFFSETS, length=LENGTHS)
    def write(self, data: st.DataObject, offset: int, length: int) -> None:
        handle = self._handle(data)
        chunk = self._chunk(length)
        self.driver.write(handle, offset, chunk)
        self.ref.write(self.handles[handle], offset, chunk)

    @precondition(lambda self: self.handles)
    @rule(data=st.data(), page=st.integers(0, 3), pages=st.integers(1, 3))
    def write_pages(self, data: st.DataObject, page: int, pages: int) -> None:
        """Whole pages, as a filesystem on a loop device writes."""
        handle = self._handle(data)
        chunk = self._chunk(pages * PAGE)
        self.driver.write(handle, page * PAGE, chunk)
        self.ref.write(self.handles[handle], page * PAGE, chunk)

    @precondition(lambda self: self.handles)
    @rule(data=st.data(), size=SIZES)
    def truncate(self, data: st.DataObject, size: int) -> None:
        handle = self._handle(data)
        self.driver.truncate(handle, size)
        self.ref.truncate(self.handles[handle], size)

    # --- durability ----------------------------------------------------------------------

    @precondition(lambda self: self.handles)
    @rule(data=st.data())
    def fsync(self, data: st.DataObject) -> None:
        handle = self._handle(data)
        self.driver.fsync(handle)
        self.ref.fsync(self.handles[handle])

    @precondition(lambda self: self.ref.names)
    @rule(data=st.data())
    def fsync_dir(self, data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(["", *self.ref.dirs()]))
        self.driver.fsync_dir(path)
        self.ref.fsync_dir()

    @precondition(lambda self: self.ref.names)
    @rule(now=st.integers(0, 3))
    def sync(self, now: int) -> None:
        if now:
            return  # rarer than the other steps: it makes everything durable
        self.driver.sync()
        self.ref.sync()

    @precondition(lambda self: self.ref.names)
    @rule(now=st.integers(0, 3))
    def power_cut(self, now: int) -> None:
        if now:
            return  # rarer than the other steps, so that runs build up unflushed state
        self.driver.power_cut()
        self.ref.power_cut()
        self.handles.clear()

    # --- what must hold after every step ---------------------------------------------------

    @invariant()
    def the_store_holds_exactly_what_was_flushed(self) -> None:
        assert self.driver.durable() == self.ref.durable_view()

    @invariant()
    def reads_see_the_cache(self) -> None:
        assert self.driver.view() == self.ref.view()
        for handle, ino in self.handles.items():
            assert self.driver.read(handle) == self.ref.data[ino]
