"""Drivers that run one script of file operations against a disk: the model alone (over
a store in memory or a real directory), or the real FUSE daemon. The model-based tests
run the same random scripts through each and compare with reference.Reference."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from tandem.lab.disk.cache import VolatileDisk
from tandem.lab.disk.memstore import MemoryStore
from tandem.lab.disk.store import DirectoryStore
from tandem.lab.disk.types import ROOT

DiskControl = Callable[[str], dict[str, Any]]


class Driver(Protocol):
    def create(self, path: str) -> None: ...
    def mkdir(self, path: str) -> None: ...
    def open(self, path: str) -> int: ...
    def close(self, handle: int) -> None: ...
    def write(self, handle: int, offset: int, data: bytes) -> None: ...
    def truncate(self, handle: int, size: int) -> None: ...
    def read(self, handle: int) -> bytes: ...
    def fsync(self, handle: int) -> None: ...
    def fsync_dir(self, path: str) -> None: ...
    def sync(self) -> None: ...
    def rename(self, source: str, target: str) -> None: ...
    def unlink(self, path: str) -> None: ...
    def rmdir(self, path: str) -> None: ...
    def power_cut(self) -> None: ...
    def view(self) -> dict[str, bytes | None]: ...
    def durable(self) -> dict[str, bytes | None]: ...


def walk_directory(root: Path) -> dict[str, bytes | None]:
    """Every path under `root`: a file's contents, None for a directory."""
    found: dict[str, bytes | None] = {}
    for directory, dirs, files in os.walk(root):
        rel = os.path.relpath(directory, root)
        prefix = "" if rel == "." else rel + "/"
        for name in dirs:
            found[prefix + name] = None
        for name in files:
            found[prefix + name] = (Path(directory) / name).read_bytes()
    return found


class ModelDriver:
    """The cache model called directly, as the FUSE layer would call it."""

    def __init__(self, store: MemoryStore | DirectoryStore, root: Path | None = None) -> None:
        self.store = store
        self.root = root
        self.disk = VolatileDisk(store)
        self.handles: dict[int, int] = {}
        self.next_handle = 0
        self.now = 1_700_000_000_000_000_000
        self.uid, self.gid = os.getuid(), os.getgid()

    def _tick(self) -> int:
        self.now += 1000
        return self.now

    def _resolve(self, path: str) -> int:
        ino = ROOT
        for part in filter(None, path.split("/")):
            ino = self.disk.lookup(ino, part).ino
        return ino

    def _split(self, path: str) -> tuple[int, str]:
        parent, _, name = path.rpartition("/")
        return self._resolve(parent), name

    def create(self, path: str) -> None:
        parent, name = self._split(path)
        self.disk.create(parent, name, 0o644, self.uid, self.gid, self._tick())

    def mkdir(self, path: str) -> None:
        parent, name = self._split(path)
        self.disk.mkdir(parent, name, 0o755, self.uid, self.gid, self._tick())

    def open(self, path: str) -> int:
        ino = self._resolve(path)
        self.disk.open(ino)
        self.next_handle += 1
        self.handles[self.next_handle] = ino
        return self.next_handle

    def close(self, handle: int) -> None:
        self.disk.release(self.handles.pop(handle))

    def write(self, handle: int, offset: int, data: bytes) -> None:
        self.disk.write(self.handles[handle], offset, data, self._tick())

    def truncate(self, handle: int, size: int) -> None:
        self.disk.setattr(self.handles[handle], self._tick(), size=size)

    def read(self, handle: int) -> bytes:
        ino = self.handles[handle]
        return self.disk.read(ino, 0, self.disk.getattr(ino).size + 1)

    def fsync(self, handle: int) -> None:
        self.disk.fsync(self.handles[handle])

    def fsync_dir(self, path: str) -> None:
        self.disk.fsync(self._resolve(path))

    def sync(self) -> None:
        self.disk.sync()

    def rename(self, source: str, target: str) -> None:
        sp, sn = self._split(source)
        tp, tn = self._split(target)
        self.disk.rename(sp, sn, tp, tn, self._tick())

    def unlink(self, path: str) -> None:
        parent, name = self._split(path)
        self.disk.unlink(parent, name, self._tick())

    def rmdir(self, path: str) -> None:
        parent, name = self._split(path)
        self.disk.rmdir(parent, name, self._tick())

    def power_cut(self) -> None:
        self.disk.power_cut()
        self.handles.clear()

    def view(self) -> dict[str, bytes | None]:
        found: dict[str, bytes | None] = {}

        def walk(ino: int, prefix: str) -> None:
            for name, st in self.disk.listdir(ino):
                if st.kind == "dir":
                    found[prefix + name] = None
                    walk(st.ino, prefix + name + "/")
                else:
                    found[prefix + name] = self.disk.read(st.ino, 0, st.size + 1)

        walk(ROOT, "")
        return found

    def durable(self) -> dict[str, bytes | None]:
        if isinstance(self.store, MemoryStore):
            return self.store.snapshot()
        assert self.root is not None
        return walk_directory(self.root)


class FuseDriver:
    """The real daemon: operations are system calls on its mount, under `prefix` (a fresh
    directory per run, so runs can share one daemon); power cuts go to its control socket
    after every descriptor is closed, as a power cut kills every process of the node."""

    def __init__(self, mount: Path, store: Path, prefix: str, control: DiskControl) -> None:
        self.mount = mount / prefix
        self.store = store / prefix
        self.control = control
        self.fds: set[int] = set()
        self.mount.mkdir()
        self.fsync_dir("")

    def _p(self, path: str) -> Path:
        return self.mount / path if path else self.mount

    def create(self, path: str) -> None:
        os.close(os.open(self._p(path), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))

    def mkdir(self, path: str) -> None:
        os.mkdir(self._p(path))

    def open(self, path: str) -> int:
        fd = os.open(self._p(path), os.O_RDWR)
        self.fds.add(fd)
        return fd

    def close(self, handle: int) -> None:
        self.fds.discard(handle)
        os.close(handle)

    def write(self, handle: int, offset: int, data: bytes) -> None:
        assert os.pwrite(handle, data, offset) == len(data)

    def truncate(self, handle: int, size: int) -> None:
        os.ftruncate(handle, size)

    def read(self, handle: int) -> bytes:
        return os.pread(handle, os.fstat(handle).st_size + 1, 0)

    def fsync(self, handle: int) -> None:
        os.fsync(handle)

    def fsync_dir(self, path: str) -> None:
        fd = os.open(self._p(path), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def sync(self) -> None:
        self.control("writeback")  # sync(2) never reaches a FUSE daemon (docs/lab.md)

    def rename(self, source: str, target: str) -> None:
        os.rename(self._p(source), self._p(target))

    def unlink(self, path: str) -> None:
        os.unlink(self._p(path))

    def rmdir(self, path: str) -> None:
        os.rmdir(self._p(path))

    def power_cut(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds.clear()
        self.control("power_cut")

    def view(self) -> dict[str, bytes | None]:
        return walk_directory(self.mount)

    def durable(self) -> dict[str, bytes | None]:
        return walk_directory(self.store)

    def finish(self) -> None:
        """Close what is open and make everything durable, for the next run."""
        for fd in self.fds:
            os.close(fd)
        self.fds.clear()
        self.control("writeback")
