"""Words shared by the disk's model and its edges: the store interface, entries, errors.

The model (cache.py) never touches a file: it asks a `Store` for the durable contents and
tells it what to make durable. The real store is the node's directory on the host
(store.py); the tests use one in memory (memstore.py). Paths in a store are tuples of
names relative to its root, so no code has to join or split strings.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

PAGE = 4096
ROOT = 1  # FUSE's inode number of the mount's root
NAME_MAX = 255

Kind = Literal["file", "dir"]
StorePath = tuple[str, ...]
Buffer = bytes | bytearray | memoryview


@dataclass(frozen=True)
class Attributes:
    """The inode attributes the disk keeps; `mode` holds the permission bits only."""

    mode: int
    uid: int
    gid: int
    atime_ns: int
    mtime_ns: int
    ctime_ns: int


@dataclass(frozen=True)
class Entry:
    """A file or directory as the store holds it."""

    name: str
    kind: Kind
    size: int
    attrs: Attributes


class Store(Protocol):
    """The durable side of the disk. Every call is made durable at once (the lab's host
    does not lose power); the model decides when to call.

    File contents are addressed by inode number plus the durable path (None while the
    file has no durable name): the store may keep one open file per inode, and holds the
    contents of a file without a durable name (made durable by fsync before its directory
    was) where nothing can see them, so that a power cut (`reset`) discards them.
    """

    def stat(self, path: StorePath) -> Entry: ...

    def listdir(self, path: StorePath) -> list[Entry]: ...

    def read(self, ino: int, path: StorePath | None, offset: int, size: int) -> bytes: ...

    def write(
        self, ino: int, path: StorePath | None, offset: int, buffers: Sequence[Buffer]
    ) -> None: ...

    def truncate(self, ino: int, path: StorePath | None, size: int) -> None: ...

    def set_attributes(
        self, ino: int, path: StorePath | None, kind: Kind, attrs: Attributes
    ) -> None: ...

    def link(self, ino: int, path: StorePath, attrs: Attributes) -> None:
        """Give the inode's durable contents (empty if it has none) the name `path`."""

    def retain(self, ino: int, path: StorePath) -> None:
        """Keep the contents at `path` readable through `ino` after the name goes."""

    def forget(self, ino: int) -> None:
        """The inode is closed: contents kept only for it may go."""

    def unlink(self, path: StorePath) -> None: ...

    def rename(self, source: StorePath, target: StorePath) -> None: ...

    def mkdir(self, path: StorePath, attrs: Attributes) -> None: ...

    def rmdir(self, path: StorePath) -> None: ...

    def reset(self) -> None:
        """Power cut: drop every open file and every contents without a durable name."""


class DiskError(Exception):
    """An operation the node asked for fails with `errno` (the FUSE layer returns it)."""

    def __init__(self, code: int, detail: str = "") -> None:
        self.errno = code
        super().__init__(f"{errno.errorcode.get(code, code)}: {detail}" if detail else str(code))
