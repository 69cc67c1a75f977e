"""The volatile-cache disk as a model: what the node sees, and what a power cut keeps.

The store (types.Store) holds exactly what was flushed. On top of it this model keeps,
in memory:

- per file, the unflushed data and size (pages.FileData) and attributes set since the
  last flush. `fsync` makes them durable; `fdatasync` the data and size only;
- the unflushed namespace changes (journal.py): create, mkdir, rename, unlink, rmdir.
  An fsync of any directory commits all of them, in order, like a journaling
  filesystem's commit; an fsync of a file does not. So a file created and fsynced but
  whose directory was never fsynced is gone after a power cut (POSIX asks for both; ext4
  is kinder, this disk is not), and a rename without a directory fsync is undone;
- nothing else: `sync` flushes everything, `power_cut` forgets everything.

A file's durable contents belong to its inode, not to its name: an inode that has no
durable name yet keeps them where a power cut discards them (the store's anonymous file)
until a commit gives it one. Reads see the cache. Nothing here does I/O of its own or
reads a clock: the store is passed in, and `now` (nanoseconds) with each change.
"""

from __future__ import annotations

import errno
from collections import deque
from dataclasses import dataclass, replace

from tandem.errors import UsageError
from tandem.lab.disk.journal import Created, Op, Removed, Renamed
from tandem.lab.disk.pages import FileData
from tandem.lab.disk.types import (
    NAME_MAX,
    PAGE,
    ROOT,
    Attributes,
    Buffer,
    DiskError,
    Kind,
    Store,
    StorePath,
)

DEFAULT_CACHE_LIMIT = 512 * 1024 * 1024


@dataclass(frozen=True)
class Stat:
    ino: int
    kind: Kind
    size: int
    attrs: Attributes


@dataclass(frozen=True)
class DiskStatus:
    """What `tandem lab status` shows of a disk."""

    dirty_bytes: int  # unflushed data held in the cache (whole pages)
    dirty_files: int  # files with unflushed data, size or attributes
    pending_ops: int  # unflushed namespace changes
    fsyncs: int
    commits: int  # directory fsyncs and syncs that committed the namespace journal
    syncs: int
    power_cuts: int
    written_back: int  # flushes forced by a full cache (see DEFAULT_CACHE_LIMIT)
    flushed_bytes: int


@dataclass(eq=False)
class Inode:
    """A file or directory. (parent, name) is where it is now, (dparent, dname) where it is
    on the durable side; either is None while it has no such name."""

    ino: int
    kind: Kind
    attrs: Attributes
    dattrs: Attributes  # the attributes as last made durable (or as created)
    parent: int | None = None
    name: str | None = None
    dparent: int | None = None
    dname: str | None = None
    entries: dict[str, int] | None = None  # a directory's names; None until loaded
    data: FileData | None = None
    opened: int = 0

    @property
    def linked(self) -> bool:
        return self.ino == ROOT or self.parent is not None

    @property
    def durable(self) -> bool:
        return self.ino == ROOT or self.dparent is not None


class VolatileDisk:
    def __init__(self, store: Store, cache_limit: int = DEFAULT_CACHE_LIMIT) -> None:
        self.store = store
        self.cache_limit = cache_limit
        self.journal: deque[Op] = deque()
        self.next_ino = ROOT + 1
        self.fsyncs = self.commits = self.syncs = self.power_cuts = 0
        self.written_back = self.flushed_bytes = 0
        self._reset()

    def _reset(self) -> None:
        root = self.store.stat(())
        self.inodes: dict[int, Inode] = {ROOT: Inode(ROOT, "dir", root.attrs, root.attrs)}
        self.dirty: set[int] = set()  # inodes with unflushed data, size or attributes
        self.orphans: set[int] = set()  # unlinked now; dropped once nothing refers to them
        self.dirty_pages = 0

    # --- finding inodes ----------------------------------------------------------------

    def _inode(self, ino: int) -> Inode:
        inode = self.inodes.get(ino)
        if inode is None:
            raise DiskError(errno.ESTALE, f"inode {ino} is gone")
        return inode

    def _file(self, ino: int) -> tuple[Inode, FileData]:
        inode = self._inode(ino)
        if inode.data is None:
            raise DiskError(errno.EISDIR)
        return inode, inode.data

    def _dir(self, ino: int) -> tuple[Inode, dict[str, int]]:
        inode = self._inode(ino)
        if inode.kind != "dir":
            raise DiskError(errno.ENOTDIR)
        return inode, self._entries(inode)

    def _entries(self, inode: Inode) -> dict[str, int]:
        """A directory's names, read from the store the first time: until then nothing
        changed them, so the durable ones are the current ones."""
        if inode.entries is None:
            inode.entries = {}
            for entry in self.store.listdir(self._durable_path(inode)):
                child = Inode(
                    self._new_ino(), entry.kind, entry.attrs, entry.attrs,
                    parent=inode.ino, name=entry.name, dparent=inode.ino, dname=entry.name,
                    data=FileData(entry.size) if entry.kind == "file" else None,
                )  # fmt: skip
                self.inodes[child.ino] = child
                inode.entries[entry.name] = child.ino
        return inode.entries

    def _new_ino(self) -> int:
        ino = self.next_ino
        self.next_ino += 1  # never reused, not even after a power cut: the kernel may
        return ino  # still hold the old numbers

    def _durable_path(self, inode: Inode) -> StorePath:
        names: list[str] = []
        while inode.ino != ROOT:
            if inode.dparent is None or inode.dname is None:
                raise UsageError(f"inode {inode.ino} has no durable name")
            names.append(inode.dname)
            inode = self.inodes[inode.dparent]
        return tuple(reversed(names))

    def _location(self, inode: Inode) -> StorePath | None:
        return self._durable_path(inode) if inode.durable else None

    def _stat(self, inode: Inode) -> Stat:
        size = inode.data.size if inode.data is not None else 0
        return Stat(inode.ino, inode.kind, size, inode.attrs)

    # --- looking -----------------------------------------------------------------------

    def getattr(self, ino: int) -> Stat:
        return self._stat(self._inode(ino))

    def lookup(self, parent: int, name: str) -> Stat:
        directory, entries = self._dir(parent)
        if name == ".":
            return self._stat(directory)
        if name == "..":
            return self._stat(self.inodes.get(directory.parent or ROOT, directory))
        ino = entries.get(name)
        if ino is None:
            raise DiskError(errno.ENOENT)
        return self._stat(self.inodes[ino])

    def listdir(self, ino: int) -> list[tuple[str, Stat]]:
        _, entries = self._dir(ino)
        return [(name, self._stat(self.inodes[child])) for name, child in entries.items()]

    # --- namespace ---------------------------------------------------------------------

    def create(self, parent: int, name: str, mode: int, uid: int, gid: int, now: int) -> Stat:
        return self._make(parent, name, "file", mode, uid, gid, now)

    def mkdir(self, parent: int, name: str, mode: int, uid: int, gid: int, now: int) -> Stat:
        return self._make(parent, name, "dir", mode, uid, gid, now)

    def _make(
        self, parent: int, name: str, kind: Kind, mode: int, uid: int, gid: int, now: int
    ) -> Stat:
        directory, entries = self._dir(parent)
        _check_name(name)
        if not directory.linked:
            raise DiskError(errno.ENOENT, "the directory was removed")
        if name in entries:
            raise DiskError(errno.EEXIST)
        attrs = Attributes(mode & 0o7777, uid, gid, now, now, now)
        inode = Inode(
            self._new_ino(), kind, attrs, attrs, parent=parent, name=name,
            entries={} if kind == "dir" else None,
            data=FileData(0) if kind == "file" else None,
        )  # fmt: skip
        self.inodes[inode.ino] = inode
        entries[name] = inode.ino
        self._touch(directory, now)
        self.journal.append(Created(inode.ino, parent, name, kind))
        return self._stat(inode)

    def unlink(self, parent: int, name: str, now: int) -> None:
        self._remove(parent, name, "file", now)

    def rmdir(self, parent: int, name: str, now: int) -> None:
        self._remove(parent, name, "dir", now)

    def _remove(self, parent: int, name: str, kind: Kind, now: int) -> None:
        directory, entries = self._dir(parent)
        ino = entries.get(name)
        if ino is None:
            raise DiskError(errno.ENOENT)
        inode = self.inodes[ino]
        if inode.kind != kind:
            raise DiskError(errno.EISDIR if inode.kind == "dir" else errno.ENOTDIR)
        if kind == "dir" and self._entries(inode):
            raise DiskError(errno.ENOTEMPTY)
        del entries[name]
        self._unlinked(inode)
        self._touch(directory, now)
        self.journal.append(Removed(ino, parent, name))

    def rename(
        self,
        parent: int,
        name: str,
        new_parent: int,
        new_name: str,
        now: int,
        noreplace: bool = False,
    ) -> None:
        source, source_entries = self._dir(parent)
        target_dir, target_entries = self._dir(new_parent)
        _check_name(new_name)
        ino = source_entries.get(name)
        if ino is None:
            raise DiskError(errno.ENOENT)
        if not target_dir.linked:
            raise DiskError(errno.ENOENT, "the target directory was removed")
        inode = self.inodes[ino]
        replaced_ino = target_entries.get(new_name)
        if replaced_ino == ino:
            return
        replaced = self.inodes[replaced_ino] if replaced_ino is not None else None
        if replaced is not None and noreplace:
            raise DiskError(errno.EEXIST)
        if inode.kind == "dir":
            walk: Inode | None = target_dir
            while walk is not None:
                if walk.ino == ino:
                    raise DiskError(errno.EINVAL, "a directory cannot move under itself")
                walk = self.inodes.get(walk.parent) if walk.parent is not None else None
            if replaced is not None:
                if replaced.kind != "dir":
                    raise DiskError(errno.ENOTDIR)
                if self._entries(replaced):
                    raise DiskError(errno.ENOTEMPTY)
        elif replaced is not None and replaced.kind == "dir":
            raise DiskError(errno.EISDIR)
        del source_entries[name]
        if replaced is not None:
            self._unlinked(replaced)
        target_entries[new_name] = ino
        inode.parent, inode.name = new_parent, new_name
        self._touch(source, now)
        self._touch(target_dir, now)
        self.journal.append(Renamed(ino, parent, name, new_parent, new_name, replaced_ino))

    def _unlinked(self, inode: Inode) -> None:
        inode.parent = inode.name = None
        self.orphans.add(inode.ino)
        if inode.opened == 0:
            self._discard(inode)

    def _discard(self, inode: Inode) -> None:
        """Nothing can read or flush this inode's unflushed data any more: free it."""
        if inode.data is not None:
            self.dirty_pages -= len(inode.data.pages)
            inode.data.discard()

    def _touch(self, directory: Inode, now: int) -> None:
        directory.attrs = replace(directory.attrs, mtime_ns=now, ctime_ns=now)

    # --- data --------------------------------------------------------------------------

    def open(self, ino: int) -> None:
        self._inode(ino).opened += 1

    def release(self, ino: int) -> None:
        inode = self.inodes.get(ino)
        if inode is None or inode.opened == 0:
            return  # a handle from before a power cut
        inode.opened -= 1
        if inode.opened:
            return
        if not inode.linked:
            self._discard(inode)
            if not self.journal:
                self._prune()
        elif inode.kind == "file" and inode.durable:
            self.store.forget(ino)  # the store can open it again by its path

    def read(self, ino: int, offset: int, size: int) -> bytes:
        inode, data = self._file(ino)
        location = self._location(inode)
        return data.read(offset, size, lambda off, n: self.store.read(inode.ino, location, off, n))

    def write(self, ino: int, offset: int, buf: Buffer, now: int) -> int:
        inode, data = self._file(ino)
        location = self._location(inode)
        before = len(data.pages)
        data.write(offset, buf, lambda off, n: self.store.read(inode.ino, location, off, n))
        self.dirty_pages += len(data.pages) - before
        inode.attrs = replace(inode.attrs, mtime_ns=now, ctime_ns=now)
        self.dirty.add(ino)
        if self.dirty_pages * PAGE > self.cache_limit:
            # A full cache writes back, as a real disk's does: the one case where data
            # that was never flushed survives a power cut.
            self._flush_file(inode, attributes=False)
            self.written_back += 1
        return len(buf)

    def setattr(
        self,
        ino: int,
        now: int,
        *,
        size: int | None = None,
        mode: int | None = None,
        uid: int | None = None,
        gid: int | None = None,
        atime_ns: int | None = None,
        mtime_ns: int | None = None,
    ) -> Stat:
        inode = self._inode(ino)
        attrs = inode.attrs
        if size is not None:
            _, data = self._file(ino)
            before = len(data.pages)
            data.truncate(size)
            self.dirty_pages += len(data.pages) - before
            attrs = replace(attrs, mtime_ns=now, ctime_ns=now)
        changes = {
            "mode": None if mode is None else mode & 0o7777, "uid": uid, "gid": gid,
            "atime_ns": atime_ns, "mtime_ns": mtime_ns,
        }  # fmt: skip
        explicit = {k: v for k, v in changes.items() if v is not None}
        if explicit:
            attrs = replace(attrs, ctime_ns=now, **explicit)
        inode.attrs = attrs
        if size is not None or explicit:
            self.dirty.add(ino)
        return self._stat(inode)

    # --- durability --------------------------------------------------------------------

    def fsync(self, ino: int, datasync: bool = False) -> None:
        """fsync/fdatasync of a file: its data and size (and attributes unless datasync).
        Of a directory: commits every unflushed namespace change, and its attributes."""
        inode = self._inode(ino)
        self.fsyncs += 1
        if inode.kind == "dir":
            self._commit()
            if inode.durable and not datasync:
                self._flush_attributes(inode)
        else:
            self._flush_file(inode, attributes=not datasync)

    def sync(self) -> None:
        """Everything becomes durable: the namespace journal, then every file."""
        self.syncs += 1
        self._commit()
        for ino in sorted(self.dirty):
            inode = self.inodes.get(ino)
            if inode is None:
                continue
            if inode.kind == "file":
                self._flush_file(inode, attributes=True)
            elif inode.durable:
                self._flush_attributes(inode)
        self.dirty.clear()

    def power_cut(self) -> None:
        """Everything not flushed vanishes; the store keeps exactly what was flushed."""
        self.power_cuts += 1
        self.journal.clear()
        self.store.reset()
        self._reset()

    def _flush_file(self, inode: Inode, attributes: bool) -> None:
        data = inode.data
        assert data is not None
        location = self._location(inode)
        if data.dirty:
            plan = data.flush_plan()
            if plan.cut is not None:
                self.store.truncate(inode.ino, location, plan.cut)
            for offset, buffers in plan.runs:
                self.store.write(inode.ino, location, offset, buffers)
            if plan.resize is not None:
                self.store.truncate(inode.ino, location, plan.resize)
            self.flushed_bytes += plan.nbytes
            self.dirty_pages -= len(data.pages)
            data.flushed()
        if attributes:
            self._flush_attributes(inode)
        if not data.dirty and inode.attrs == inode.dattrs:
            self.dirty.discard(inode.ino)

    def _flush_attributes(self, inode: Inode) -> None:
        if inode.attrs == inode.dattrs:
            return
        if inode.durable:
            self.store.set_attributes(inode.ino, self._durable_path(inode), inode.kind, inode.attrs)
        # An inode without a durable name gets them when the journal links it (_apply).
        inode.dattrs = inode.attrs

    def _commit(self) -> None:
        self.commits += 1
        while self.journal:
            self._apply(self.journal[0])
            self.journal.popleft()
        self._prune()

    def _apply(self, op: Op) -> None:
        inode = self.inodes[op.ino]
        if isinstance(op, Created):
            path = (*self._durable_path(self.inodes[op.parent]), op.name)
            if inode.kind == "file":
                self.store.link(inode.ino, path, inode.dattrs)
            else:
                self.store.mkdir(path, inode.dattrs)
            inode.dparent, inode.dname = op.parent, op.name
        elif isinstance(op, Removed):
            path = self._durable_path(inode)
            if inode.kind == "file":
                if inode.opened:
                    self.store.retain(inode.ino, path)
                self.store.unlink(path)
            else:
                self.store.rmdir(path)
            inode.dparent = inode.dname = None
        else:
            source = self._durable_path(inode)
            target = (*self._durable_path(self.inodes[op.new_parent]), op.new_name)
            if op.replaced is not None:
                replaced = self.inodes[op.replaced]
                if replaced.kind == "file" and replaced.opened:
                    self.store.retain(replaced.ino, target)
                replaced.dparent = replaced.dname = None
            self.store.rename(source, target)
            inode.dparent, inode.dname = op.new_parent, op.new_name

    def _prune(self) -> None:
        """Drop inodes that are gone everywhere and closed (the journal is empty)."""
        for ino in list(self.orphans):
            inode = self.inodes.get(ino)
            if inode is None or inode.linked:
                self.orphans.discard(ino)
            elif inode.opened == 0 and not inode.durable:
                self._discard(inode)
                del self.inodes[ino]
                self.dirty.discard(ino)
                self.orphans.discard(ino)
                self.store.forget(ino)

    # --- looking at the disk -----------------------------------------------------------

    def status(self) -> DiskStatus:
        return DiskStatus(
            dirty_bytes=self.dirty_pages * PAGE,
            dirty_files=sum(
                1 for i in self.dirty if i in self.inodes and self.inodes[i].kind == "file"
            ),
            pending_ops=len(self.journal),
            fsyncs=self.fsyncs,
            commits=self.commits,
            syncs=self.syncs,
            power_cuts=self.power_cuts,
            written_back=self.written_back,
            flushed_bytes=self.flushed_bytes,
        )


def _check_name(name: str) -> None:
    if not name or "/" in name or name in (".", ".."):
        raise DiskError(errno.EINVAL, f"bad name {name!r}")
    if len(name.encode("utf-8", "surrogateescape")) > NAME_MAX:
        raise DiskError(errno.ENAMETOOLONG)
