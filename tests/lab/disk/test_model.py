"""The disk's model against the reference model of "what was flushed" (LAB-2): random
writes, truncates, renames, unlinks, fsyncs and power cuts, over a store in memory and
over a real directory. No FUSE, no root: the model is plain code."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings

from tandem.lab.disk.memstore import MemoryStore
from tandem.lab.disk.store import DirectoryStore
from tests.lab.disk.drivers import ModelDriver
from tests.lab.disk.machine import DiskMachine

SETTINGS = settings(
    max_examples=300,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)


class InMemory(DiskMachine):
    def __init__(self) -> None:
        self.driver = ModelDriver(MemoryStore())
        super().__init__()


class OverADirectory(DiskMachine):
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tandem-disk-model-"))
        self.store = DirectoryStore(self.root)
        self.driver = ModelDriver(self.store, self.root)
        super().__init__()

    def teardown(self) -> None:
        self.store.reset()
        shutil.rmtree(self.root, ignore_errors=True)


TestInMemory = InMemory.TestCase
TestInMemory.settings = SETTINGS
TestOverADirectory = OverADirectory.TestCase
TestOverADirectory.settings = settings(SETTINGS, max_examples=100)
