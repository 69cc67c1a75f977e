"""The disk through the kernel: the real daemon, mounted, driven with system calls
(LAB-2). The same random scripts as test_model.py, then what only FUSE can show: EIO on a
failed disk, O_TRUNC, links refused, big writes in pieces."""

from __future__ import annotations

import errno
import itertools
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.lab.disk.conftest import Daemon, needs_root
from tests.lab.disk.drivers import FuseDriver
from tests.lab.disk.machine import DiskMachine

pytestmark = needs_root
runs = itertools.count()


def test_random_scripts_through_the_kernel(daemon: Daemon) -> None:
    class ThroughFuse(DiskMachine):
        def __init__(self) -> None:
            self.fuse = FuseDriver(daemon.mount, daemon.store, f"run{next(runs)}", daemon)
            self.driver = self.fuse
            super().__init__()

        def teardown(self) -> None:
            self.fuse.finish()

    run_state_machine_as_test(
        ThroughFuse,
        settings=settings(
            max_examples=40,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
        ),
    )


@pytest.fixture
def disk(daemon: Daemon) -> Iterator[FuseDriver]:
    driver = FuseDriver(daemon.mount, daemon.store, f"case{next(runs)}", daemon)
    yield driver
    daemon("fail", failed=False)
    driver.finish()


def test_a_failed_disk_answers_eio_until_healed(daemon: Daemon, disk: FuseDriver) -> None:
    disk.create("f")
    disk.fsync_dir("")
    fd = disk.open("f")
    daemon("fail", failed=True)
    assert daemon("status")["state"] == "failed"
    for attempt in (
        lambda: os.pwrite(fd, b"x", 0),
        lambda: os.pread(fd, 10, 0),
        lambda: os.fsync(fd),
        lambda: os.open(disk.mount / "new", os.O_CREAT | os.O_WRONLY),
        lambda: os.listdir(disk.mount),
    ):
        with pytest.raises(OSError) as caught:
            attempt()
        assert caught.value.errno == errno.EIO
    assert daemon.mount.is_dir()  # the root still shows, so a node can boot and bind it
    daemon("fail", failed=False)
    assert os.pwrite(fd, b"back", 0) == 4
    os.fsync(fd)
    assert (disk.store / "f").read_bytes() == b"back"


def test_a_power_cut_drops_the_cache_of_a_failed_disk_which_stays_failed(
    daemon: Daemon, disk: FuseDriver
) -> None:
    disk.create("f")
    fd = disk.open("f")
    os.pwrite(fd, b"flushed", 0)
    os.fsync(fd)
    disk.fsync_dir("")
    os.pwrite(fd, b"cached!", 0)
    disk.close(fd)
    daemon("fail", failed=True)
    status = daemon("power_cut")
    assert (status["state"], status["dirty_bytes"]) == ("failed", 0)
    with pytest.raises(OSError) as caught:
        (disk.mount / "f").read_bytes()
    assert caught.value.errno == errno.EIO
    daemon("fail", failed=False)
    assert (disk.mount / "f").read_bytes() == b"flushed"


def test_open_with_o_trunc_truncates(disk: FuseDriver) -> None:
    disk.create("f")
    fd = disk.open("f")
    os.pwrite(fd, b"contents", 0)
    fd2 = os.open(disk.mount / "f", os.O_WRONLY | os.O_TRUNC)
    os.close(fd2)
    assert disk.read(fd) == b""


def test_links_and_device_nodes_are_refused(disk: FuseDriver) -> None:
    disk.create("f")
    for attempt in (
        lambda: os.link(disk.mount / "f", disk.mount / "g"),
        lambda: os.symlink("f", disk.mount / "s"),
        lambda: os.mkfifo(disk.mount / "p"),
    ):
        with pytest.raises(OSError) as caught:
            attempt()
        assert caught.value.errno == errno.EPERM


def test_big_writes_and_fsync_reach_the_store(daemon: Daemon, disk: FuseDriver) -> None:
    data = bytes(range(256)) * 4096 * 3  # 3 MiB, arrives in pieces
    disk.create("big")
    disk.fsync_dir("")
    fd = disk.open("big")
    os.pwrite(fd, data, 4096)
    assert (disk.store / "big").stat().st_size == 0
    assert daemon("status")["dirty_bytes"] >= len(data)
    os.fdatasync(fd)
    assert (disk.store / "big").read_bytes() == bytes(4096) + data
    assert os.statvfs(disk.mount).f_bsize > 0


def test_an_open_file_outlives_its_committed_unlink(disk: FuseDriver) -> None:
    disk.create("f")
    fd = disk.open("f")
    os.pwrite(fd, b"kept while open", 0)
    os.fsync(fd)
    disk.fsync_dir("")
    disk.unlink("f")
    disk.fsync_dir("")
    assert not (disk.store / "f").exists()
    assert disk.read(fd) == b"kept while open"
