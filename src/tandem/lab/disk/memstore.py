"""A store in memory: the simulated twin of store.DirectoryStore, for testing the model.

It behaves like a directory on a local filesystem that never loses anything: files are
shared objects, so an "open file" (kept per inode) goes on working after its name is
removed or replaced, and contents without a name vanish with `reset`, as an unlinked
file does when its last descriptor closes. `snapshot()` shows what it holds.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import dataclass, field

from tandem.lab.disk.types import Attributes, Buffer, DiskError, Entry, Kind, StorePath


@dataclass(eq=False)
class MemFile:
    attrs: Attributes
    data: bytearray = field(default_factory=bytearray)


@dataclass(eq=False)
class MemDir:
    attrs: Attributes
    entries: dict[str, MemFile | MemDir] = field(default_factory=dict)


Node = MemFile | MemDir


class MemoryStore:
    def __init__(self, attrs: Attributes | None = None) -> None:
        self.root = MemDir(attrs or Attributes(0o755, 0, 0, 0, 0, 0))
        self.open_files: dict[int, MemFile] = {}
        self.calls = 0  # how often the model touched the store (tests look at it)

    # --- paths -------------------------------------------------------------------------

    def _node(self, path: StorePath) -> Node:
        node: Node = self.root
        for name in path:
            if not isinstance(node, MemDir) or name not in node.entries:
                raise DiskError(errno.ENOENT, "/".join(path))
            node = node.entries[name]
        return node

    def _parent(self, path: StorePath) -> MemDir:
        parent = self._node(path[:-1])
        if not isinstance(parent, MemDir):
            raise DiskError(errno.ENOTDIR, "/".join(path))
        return parent

    def _file(
        self, ino: int, path: StorePath | None, create: bool = False, keep: bool = False
    ) -> MemFile:
        """The inode's file: the one kept for it, else the one at `path`. Unlike the real
        store it keeps a file only when told to (`retain`) or when it makes an anonymous
        one, so a model that forgets to retain fails here instead of passing by luck."""
        self.calls += 1
        if ino in self.open_files:
            return self.open_files[ino]
        if path is None:
            if not create:
                raise DiskError(errno.EBADF, f"inode {ino} has no contents")
            node: Node = MemFile(Attributes(0o600, 0, 0, 0, 0, 0))
            keep = True
        else:
            node = self._node(path)
        if not isinstance(node, MemFile):
            raise DiskError(errno.EISDIR, "/".join(path or ()))
        if keep:
            self.open_files[ino] = node
        return node

    @staticmethod
    def _entry(name: str, node: Node) -> Entry:
        if isinstance(node, MemFile):
            return Entry(name, "file", len(node.data), node.attrs)
        return Entry(name, "dir", 0, node.attrs)

    # --- the Store interface -----------------------------------------------------------

    def stat(self, path: StorePath) -> Entry:
        return self._entry(path[-1] if path else "", self._node(path))

    def listdir(self, path: StorePath) -> list[Entry]:
        self.calls += 1
        node = self._node(path)
        if not isinstance(node, MemDir):
            raise DiskError(errno.ENOTDIR)
        return [self._entry(name, child) for name, child in node.entries.items()]

    def read(self, ino: int, path: StorePath | None, offset: int, size: int) -> bytes:
        return bytes(self._file(ino, path).data[offset : offset + size])

    def write(
        self, ino: int, path: StorePath | None, offset: int, buffers: Sequence[Buffer]
    ) -> None:
        data = self._file(ino, path, create=True).data
        for buffer in buffers:
            if len(data) < offset:
                data.extend(bytes(offset - len(data)))
            data[offset : offset + len(buffer)] = buffer
            offset += len(buffer)

    def truncate(self, ino: int, path: StorePath | None, size: int) -> None:
        data = self._file(ino, path, create=True).data
        if size < len(data):
            del data[size:]
        else:
            data.extend(bytes(size - len(data)))

    def set_attributes(
        self, ino: int, path: StorePath | None, kind: Kind, attrs: Attributes
    ) -> None:
        self.calls += 1
        if kind == "file":
            self._file(ino, path).attrs = attrs
        elif path is not None:
            self._node(path).attrs = attrs

    def link(self, ino: int, path: StorePath, attrs: Attributes) -> None:
        self.calls += 1
        parent = self._parent(path)
        if path[-1] in parent.entries:
            raise DiskError(errno.EEXIST, "/".join(path))
        node = self.open_files.get(ino) or MemFile(attrs)
        node.attrs = attrs
        parent.entries[path[-1]] = node

    def retain(self, ino: int, path: StorePath) -> None:
        self._file(ino, path, keep=True)

    def forget(self, ino: int) -> None:
        self.open_files.pop(ino, None)

    def unlink(self, path: StorePath) -> None:
        self.calls += 1
        parent = self._parent(path)
        if not isinstance(parent.entries.get(path[-1]), MemFile):
            raise DiskError(errno.ENOENT, "/".join(path))
        del parent.entries[path[-1]]

    def rename(self, source: StorePath, target: StorePath) -> None:
        self.calls += 1
        node = self._node(source)
        target_parent = self._parent(target)
        existing = target_parent.entries.get(target[-1])
        if isinstance(existing, MemDir) and (existing.entries or isinstance(node, MemFile)):
            raise DiskError(errno.ENOTEMPTY, "/".join(target))
        del self._parent(source).entries[source[-1]]
        target_parent.entries[target[-1]] = node

    def mkdir(self, path: StorePath, attrs: Attributes) -> None:
        self.calls += 1
        parent = self._parent(path)
        if path[-1] in parent.entries:
            raise DiskError(errno.EEXIST, "/".join(path))
        parent.entries[path[-1]] = MemDir(attrs)

    def rmdir(self, path: StorePath) -> None:
        self.calls += 1
        parent = self._parent(path)
        node = parent.entries.get(path[-1])
        if not isinstance(node, MemDir) or node.entries:
            raise DiskError(errno.ENOTEMPTY, "/".join(path))
        del parent.entries[path[-1]]

    def reset(self) -> None:
        self.open_files.clear()

    # --- for tests -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, bytes | None]:
        """Every path the store holds: a file's contents, None for a directory."""
        found: dict[str, bytes | None] = {}

        def walk(prefix: str, directory: MemDir) -> None:
            for name, node in directory.entries.items():
                path = f"{prefix}{name}"
                if isinstance(node, MemDir):
                    found[path] = None
                    walk(path + "/", node)
                else:
                    found[path] = bytes(node.data)

        walk("", self.root)
        return found
