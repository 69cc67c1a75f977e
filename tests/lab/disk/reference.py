"""The obviously correct model of "what was flushed", for the disk's model-based tests.

It knows nothing of pages, journals or stores: the durable namespace is a copy of the
namespace taken at the last directory fsync (or sync), and each file's durable contents
a copy taken at its last fsync. After a power cut, the disk must hold exactly the durable
namespace with each file's durable contents (empty if it was never fsynced).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Reference:
    names: dict[str, int | None] = field(default_factory=dict)  # path -> inode (None: dir)
    data: dict[int, bytes] = field(default_factory=dict)
    durable_names: dict[str, int | None] = field(default_factory=dict)
    durable_data: dict[int, bytes] = field(default_factory=dict)
    handles: dict[int, int] = field(default_factory=dict)  # handle -> inode
    next_id: int = 1

    def _new(self) -> int:
        self.next_id += 1
        return self.next_id

    def files(self) -> list[str]:
        return sorted(p for p, i in self.names.items() if i is not None)

    def dirs(self) -> list[str]:
        return sorted(p for p, i in self.names.items() if i is None)

    def children(self, path: str) -> list[str]:
        return [p for p in self.names if p.startswith(path + "/")]

    def parent_exists(self, path: str) -> bool:
        parent = path.rpartition("/")[0]
        return parent == "" or self.names.get(parent, 0) is None

    # --- operations (the caller only asks for legal ones) ---------------------------------

    def create(self, path: str) -> None:
        ino = self._new()
        self.names[path] = ino
        self.data[ino] = b""

    def mkdir(self, path: str) -> None:
        self.names[path] = None

    def write(self, ino: int, offset: int, chunk: bytes) -> None:
        old = self.data[ino]
        if len(old) < offset:
            old += bytes(offset - len(old))
        self.data[ino] = old[:offset] + chunk + old[offset + len(chunk) :]

    def truncate(self, ino: int, size: int) -> None:
        old = self.data[ino]
        self.data[ino] = old[:size] + bytes(max(0, size - len(old)))

    def unlink(self, path: str) -> None:
        del self.names[path]

    def rmdir(self, path: str) -> None:
        del self.names[path]

    def rename(self, source: str, target: str) -> None:
        moved = {p: i for p, i in self.names.items() if p == source or p.startswith(source + "/")}
        if target in self.names:
            del self.names[target]
        for p in moved:
            del self.names[p]
        for p, i in moved.items():
            self.names[target + p[len(source) :]] = i

    def fsync(self, ino: int) -> None:
        self.durable_data[ino] = self.data[ino]

    def fsync_dir(self) -> None:
        self.durable_names = dict(self.names)

    def sync(self) -> None:
        self.fsync_dir()
        self.durable_data.update(self.data)

    def power_cut(self) -> None:
        self.names = dict(self.durable_names)
        self.data = {i: self.durable_data.get(i, b"") for i in self.names.values() if i}
        self.durable_data = {i: d for i, d in self.durable_data.items() if i in self.data}
        self.handles.clear()

    # --- what a disk must show -------------------------------------------------------------

    def view(self) -> dict[str, bytes | None]:
        return {p: (None if i is None else self.data[i]) for p, i in self.names.items()}

    def durable_view(self) -> dict[str, bytes | None]:
        return {
            p: (None if i is None else self.durable_data.get(i, b""))
            for p, i in self.durable_names.items()
        }
