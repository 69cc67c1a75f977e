"""The disk's model, one documented behaviour at a time (docs/lab.md, "Disks"); no FUSE,
no root: the model runs over the store in memory."""

from __future__ import annotations

import errno

import pytest

from tandem.lab.disk.cache import VolatileDisk
from tandem.lab.disk.memstore import MemoryStore
from tandem.lab.disk.types import PAGE, ROOT, DiskError
from tests.lab.disk.drivers import ModelDriver


@pytest.fixture
def d() -> ModelDriver:
    return ModelDriver(MemoryStore())


def made(d: ModelDriver, path: str, data: bytes = b"", fsync: bool = True) -> int:
    """Create `path` with `data`, fsync it and its directory (durable) if asked."""
    d.create(path)
    h = d.open(path)
    if data:
        d.write(h, 0, data)
    if fsync:
        d.fsync(h)
        d.fsync_dir(path.rpartition("/")[0])
    return h


def test_nothing_reaches_the_store_before_a_flush(d: ModelDriver) -> None:
    d.mkdir("dir")
    h = made(d, "dir/file", b"x" * 10000, fsync=False)
    d.truncate(h, 5)
    d.rename("dir/file", "dir/moved")
    assert d.durable() == {}
    assert d.view() == {"dir": None, "dir/moved": b"xxxxx"}


def test_unflushed_data_is_gone_after_a_power_cut(d: ModelDriver) -> None:
    h = made(d, "file", b"old")
    d.write(h, 0, b"new data")
    d.power_cut()
    assert d.view() == d.durable() == {"file": b"old"}


def test_fsynced_data_survives_a_power_cut(d: ModelDriver) -> None:
    h = made(d, "file", b"old")
    d.write(h, 0, b"new data")
    d.fsync(h)
    d.power_cut()
    assert d.view() == {"file": b"new data"}


def test_a_new_file_needs_its_directory_fsynced_too(d: ModelDriver) -> None:
    h = made(d, "file", b"data", fsync=False)
    d.fsync(h)  # data durable, but the name is not
    d.power_cut()
    assert d.view() == {}


def test_a_name_committed_without_data_is_an_empty_file(d: ModelDriver) -> None:
    made(d, "file", b"data", fsync=False)
    d.fsync_dir("")
    d.power_cut()
    assert d.view() == {"file": b""}


def test_a_rename_without_a_directory_fsync_is_undone(d: ModelDriver) -> None:
    made(d, "a", b"one")
    d.rename("a", "b")
    d.power_cut()
    assert d.view() == {"a": b"one"}


def test_a_directory_fsync_commits_every_pending_change_in_order(d: ModelDriver) -> None:
    d.mkdir("x")
    d.mkdir("y")
    made(d, "x/tmp", b"v2", fsync=False)
    d.rename("x/tmp", "y/final")
    d.fsync_dir("y")  # any directory: the journal is one, like ext4's
    d.power_cut()
    assert d.view() == {"x": None, "y": None, "y/final": b""}  # name yes, data never fsynced


def test_write_tmp_fsync_rename_fsync_dir_is_atomic(d: ModelDriver) -> None:
    made(d, "meta", b"version 1")
    h = made(d, "meta.tmp", b"version 2", fsync=False)
    d.fsync(h)
    d.rename("meta.tmp", "meta")
    d.power_cut()  # before the directory fsync: the old version
    assert d.view() == {"meta": b"version 1"}
    h = made(d, "meta.tmp", b"version 2", fsync=False)
    d.fsync(h)
    d.rename("meta.tmp", "meta")
    d.fsync_dir("")
    d.power_cut()
    assert d.view() == {"meta": b"version 2"}


def reopened(d: ModelDriver, handle: int, path: str) -> int:
    """Close and open again: the store then holds nothing open for the file."""
    d.close(handle)
    assert d.store.open_files == {}  # type: ignore[union-attr]
    return d.open(path)


def test_an_open_file_reads_on_after_its_name_is_removed_and_committed(d: ModelDriver) -> None:
    h = reopened(d, made(d, "file", b"A" * (2 * PAGE)), "file")
    d.unlink("file")
    d.fsync_dir("")
    assert d.durable() == {}
    assert d.read(h) == b"A" * (2 * PAGE)  # the store retained it for the open handle
    d.write(h, 1, b"b")
    d.fsync(h)
    assert d.read(h)[:3] == b"AbA"
    d.close(h)
    assert d.disk.status().dirty_files == 0


def test_an_open_file_reads_on_after_a_rename_replaces_it(d: ModelDriver) -> None:
    old = reopened(d, made(d, "file", b"old contents"), "file")
    made(d, "new", b"new contents")
    d.rename("new", "file")
    d.fsync_dir("")
    assert d.durable() == {"file": b"new contents"}
    assert d.read(old) == b"old contents"


def test_shrinking_and_growing_reads_zeros_and_flushes_zeros(d: ModelDriver) -> None:
    h = made(d, "file", b"x" * 100)
    d.truncate(h, 10)
    d.truncate(h, 20)
    assert d.read(h) == b"x" * 10 + bytes(10)
    d.fsync(h)
    assert d.durable() == {"file": b"x" * 10 + bytes(10)}


def test_fdatasync_flushes_data_but_not_attributes() -> None:
    store = MemoryStore()
    disk = VolatileDisk(store)
    st = disk.create(ROOT, "f", 0o600, 0, 0, now=1)
    disk.fsync(ROOT)
    disk.write(st.ino, 0, b"abc", now=2)
    disk.setattr(st.ino, now=3, mode=0o640)
    disk.fsync(st.ino, datasync=True)
    assert store.stat(("f",)).size == 3
    assert store.stat(("f",)).attrs.mode == 0o600
    disk.fsync(st.ino)
    assert store.stat(("f",)).attrs.mode == 0o640


def test_sync_flushes_everything_and_empties_the_cache(d: ModelDriver) -> None:
    d.mkdir("dir")
    made(d, "dir/a", b"a" * 5000, fsync=False)
    made(d, "b", b"b", fsync=False)
    d.sync()
    status = d.disk.status()
    assert (status.dirty_bytes, status.dirty_files, status.pending_ops) == (0, 0, 0)
    d.power_cut()
    assert d.view() == {"dir": None, "dir/a": b"a" * 5000, "b": b"b"}


def test_status_counts_what_is_cached(d: ModelDriver) -> None:
    h = made(d, "file")
    d.write(h, 0, b"x" * (PAGE + 1))
    d.mkdir("dir")
    status = d.disk.status()
    assert status.dirty_bytes == 2 * PAGE
    assert status.dirty_files == 1
    assert status.pending_ops == 1
    d.power_cut()
    assert d.disk.status().dirty_bytes == 0
    assert d.disk.status().power_cuts == 1


def test_a_full_cache_writes_back() -> None:
    store = MemoryStore()
    disk = VolatileDisk(store, cache_limit=4 * PAGE)
    st = disk.create(ROOT, "f", 0o600, 0, 0, now=1)
    disk.fsync(ROOT)
    disk.write(st.ino, 0, b"y" * (4 * PAGE), now=2)
    assert store.snapshot() == {"f": b""}
    disk.write(st.ino, 4 * PAGE, b"z", now=3)
    assert store.snapshot() == {"f": b"y" * (4 * PAGE) + b"z"}
    assert disk.status().written_back == 1
    assert disk.status().dirty_bytes == 0


@pytest.mark.parametrize(
    ("steps", "code"),
    [
        (lambda d: d.unlink("missing"), errno.ENOENT),
        (lambda d: d.create("file"), errno.EEXIST),
        (lambda d: d.mkdir("dir"), errno.EEXIST),
        (lambda d: d.rmdir("dir"), errno.ENOTEMPTY),
        (lambda d: d.unlink("dir"), errno.EISDIR),
        (lambda d: d.rmdir("file"), errno.ENOTDIR),
        (lambda d: d.rename("dir", "dir/inner/under"), errno.EINVAL),
        (lambda d: d.rename("file", "dir"), errno.EISDIR),
        (lambda d: d.rename("dir", "file"), errno.ENOTDIR),
        (lambda d: d.create("x" * 256), errno.ENAMETOOLONG),
        (lambda d: d.create("file/below"), errno.ENOTDIR),
    ],
)
def test_errors_are_those_of_a_filesystem(d: ModelDriver, steps: object, code: int) -> None:
    made(d, "file")
    d.mkdir("dir")
    d.mkdir("dir/inner")
    with pytest.raises(DiskError) as caught:
        steps(d)  # type: ignore[operator]
    assert caught.value.errno == code


def test_rename_noreplace_refuses_an_existing_target() -> None:
    disk = VolatileDisk(MemoryStore())
    disk.create(ROOT, "a", 0o600, 0, 0, now=1)
    disk.create(ROOT, "b", 0o600, 0, 0, now=1)
    with pytest.raises(DiskError) as caught:
        disk.rename(ROOT, "a", ROOT, "b", now=2, noreplace=True)
    assert caught.value.errno == errno.EEXIST


def test_inode_numbers_are_not_reused_after_a_power_cut(d: ModelDriver) -> None:
    made(d, "file", b"x")
    before = d.disk.lookup(ROOT, "file").ino
    d.power_cut()
    after = d.disk.lookup(ROOT, "file").ino
    assert after > before  # the kernel may still hold the old number
    with pytest.raises(DiskError) as caught:
        d.disk.getattr(before)
    assert caught.value.errno == errno.ESTALE


def test_closed_and_removed_inodes_are_dropped(d: ModelDriver) -> None:
    for i in range(20):
        h = made(d, f"f{i}", b"x")
        d.close(h)
        d.unlink(f"f{i}")
    d.fsync_dir("")
    assert set(d.disk.inodes) == {ROOT}
    assert d.store.open_files == {}  # type: ignore[union-attr]
