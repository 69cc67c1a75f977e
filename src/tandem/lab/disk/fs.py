"""The lab disk as a FUSE filesystem: each kernel request, put to the cache model.

Only files and directories exist here (no links, symlinks or device nodes: EPERM), and
`fallocate` is not offered (pyfuse3 has no handler). The kernel caches neither names nor
attributes (timeouts 0) nor file pages across opens: after a power cut the disk changes
under the node's feet, and a booting node must see what the disk kept, not what its
kernel remembers. Writes are not cached by the kernel either (no writeback cache), so
every write reaches the model at once, as it would reach a disk.

A failed disk (`fail-disk`) answers EIO to everything except stat of its root, so that
the node can still boot and bind it, as a dead disk still shows up as a device.
"""

# The handlers' signatures are pyfuse3's, whether or not they use every argument.
# ruff: noqa: ARG002

from __future__ import annotations

import errno
import functools
import logging
import os
import stat
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

import pyfuse3

from tandem.lab.disk.cache import Stat, VolatileDisk
from tandem.lab.disk.store import DirectoryStore
from tandem.lab.disk.types import PAGE, ROOT, DiskError

log = logging.getLogger("tandem.lab.disk")

P = ParamSpec("P")
T = TypeVar("T")
Handler = Callable[Concatenate["DiskFS", P], Coroutine[Any, Any, T]]


def request(*, when_failed: bool = False) -> Callable[[Handler[P, T]], Handler[P, T]]:
    """Turn the model's errors into errnos; a bug answers EIO and is logged instead of
    taking the daemon (and the node's disk) down. `when_failed`: served on a failed disk."""

    def decorate(fn: Handler[P, T]) -> Handler[P, T]:
        async def handle(self: DiskFS, /, *args: P.args, **kwargs: P.kwargs) -> T:
            if self.failed and not when_failed:
                raise pyfuse3.FUSEError(errno.EIO)
            try:
                return await fn(self, *args, **kwargs)
            except pyfuse3.FUSEError:
                raise
            except DiskError as exc:
                raise pyfuse3.FUSEError(exc.errno) from None
            except OSError as exc:
                log.warning("%s: the store failed: %s", fn.__name__, exc)
                raise pyfuse3.FUSEError(exc.errno or errno.EIO) from None
            except Exception:
                log.exception("%s failed", fn.__name__)
                raise pyfuse3.FUSEError(errno.EIO) from None

        functools.update_wrapper(handle, fn)
        return handle

    return decorate


def _name(raw: bytes) -> str:
    return os.fsdecode(raw)


def _now() -> int:
    return time.time_ns()


class DiskFS(pyfuse3.Operations):
    supports_dot_lookup = False
    enable_writeback_cache = False
    enable_acl = False

    def __init__(self, disk: VolatileDisk, store: DirectoryStore) -> None:
        super().__init__()
        self.disk = disk
        self.store = store
        self.failed = False
        self.files: dict[int, int] = {}  # file handle -> inode
        self.dirs: dict[int, tuple[int, list[tuple[str, Stat]]]] = {}
        self.next_handle = 1

    def _handle(self) -> int:
        self.next_handle += 1
        return self.next_handle

    def _file(self, fh: int) -> int:
        ino = self.files.get(fh)
        if ino is None:
            raise pyfuse3.FUSEError(errno.EBADF)  # opened before a power cut
        return ino

    @staticmethod
    def _entry(st: Stat) -> pyfuse3.EntryAttributes:
        entry = pyfuse3.EntryAttributes()
        entry.st_ino = st.ino
        entry.generation = 0
        entry.entry_timeout = 0
        entry.attr_timeout = 0
        entry.st_mode = (stat.S_IFDIR if st.kind == "dir" else stat.S_IFREG) | st.attrs.mode
        entry.st_nlink = 1
        entry.st_uid = st.attrs.uid
        entry.st_gid = st.attrs.gid
        entry.st_rdev = 0
        entry.st_size = st.size
        entry.st_blksize = PAGE
        entry.st_blocks = -(-st.size // 512)
        entry.st_atime_ns = st.attrs.atime_ns
        entry.st_mtime_ns = st.attrs.mtime_ns
        entry.st_ctime_ns = st.attrs.ctime_ns
        return entry

    # --- the lab's controls (called between requests, from the daemon's control socket) --

    def power_cut(self) -> None:
        self.files.clear()
        self.dirs.clear()
        self.disk.power_cut()

    def status(self) -> dict[str, Any]:
        s = self.disk.status()
        return {
            "state": "failed" if self.failed else "ok",
            "dirty_bytes": s.dirty_bytes,
            "dirty_files": s.dirty_files,
            "pending_ops": s.pending_ops,
            "fsyncs": s.fsyncs,
            "commits": s.commits,
            "syncs": s.syncs,
            "power_cuts": s.power_cuts,
            "written_back": s.written_back,
            "flushed_bytes": s.flushed_bytes,
            "open_files": len(self.files),
        }

    # --- names -------------------------------------------------------------------------

    @request()
    async def lookup(
        self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        return self._entry(self.disk.lookup(parent_inode, _name(name)))

    @request(when_failed=True)
    async def getattr(self, inode: int, ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        if self.failed and inode != ROOT:
            raise pyfuse3.FUSEError(errno.EIO)
        return self._entry(self.disk.getattr(inode))

    @request()
    async def setattr(
        self,
        inode: int,
        attr: pyfuse3.EntryAttributes,
        fields: pyfuse3.SetattrFields,
        fh: int | None,
        ctx: pyfuse3.RequestContext,
    ) -> pyfuse3.EntryAttributes:
        st = self.disk.setattr(
            inode,
            _now(),
            size=attr.st_size if fields.update_size else None,
            mode=attr.st_mode if fields.update_mode else None,
            uid=attr.st_uid if fields.update_uid else None,
            gid=attr.st_gid if fields.update_gid else None,
            atime_ns=attr.st_atime_ns if fields.update_atime else None,
            mtime_ns=attr.st_mtime_ns if fields.update_mtime else None,
        )
        return self._entry(st)

    @request()
    async def mkdir(
        self, parent_inode: int, name: bytes, mode: int, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        st = self.disk.mkdir(parent_inode, _name(name), mode, ctx.uid, ctx.gid, _now())
        return self._entry(st)

    @request()
    async def unlink(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        self.disk.unlink(parent_inode, _name(name), _now())

    @request()
    async def rmdir(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        self.disk.rmdir(parent_inode, _name(name), _now())

    @request()
    async def rename(
        self,
        parent_inode_old: int,
        name_old: bytes,
        parent_inode_new: int,
        name_new: bytes,
        flags: int,
        ctx: pyfuse3.RequestContext,
    ) -> None:
        if flags & pyfuse3.RENAME_EXCHANGE:
            raise pyfuse3.FUSEError(errno.EINVAL)
        self.disk.rename(
            parent_inode_old, _name(name_old), parent_inode_new, _name(name_new), _now(),
            noreplace=bool(flags & pyfuse3.RENAME_NOREPLACE),
        )  # fmt: skip

    @request()
    async def link(
        self, inode: int, new_parent_inode: int, new_name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        raise pyfuse3.FUSEError(errno.EPERM)  # no hard links: one durable name per inode

    @request()
    async def symlink(
        self, parent_inode: int, name: bytes, target: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        raise pyfuse3.FUSEError(errno.EPERM)

    @request()
    async def mknod(
        self, parent_inode: int, name: bytes, mode: int, rdev: int, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        raise pyfuse3.FUSEError(errno.EPERM)

    @request()
    async def statfs(self, ctx: pyfuse3.RequestContext) -> pyfuse3.StatvfsData:
        real = self.store.statvfs()
        out = pyfuse3.StatvfsData()
        for name in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files",
                     "f_ffree", "f_favail", "f_namemax"):  # fmt: skip
            setattr(out, name, getattr(real, name))
        return out

    # --- files -------------------------------------------------------------------------

    @request()
    async def create(
        self, parent_inode: int, name: bytes, mode: int, flags: int, ctx: pyfuse3.RequestContext
    ) -> tuple[pyfuse3.FileInfo, pyfuse3.EntryAttributes]:
        st = self.disk.create(parent_inode, _name(name), mode, ctx.uid, ctx.gid, _now())
        self.disk.open(st.ino)
        fh = self._handle()
        self.files[fh] = st.ino
        return pyfuse3.FileInfo(fh=fh), self._entry(st)

    @request()
    async def open(self, inode: int, flags: int, ctx: pyfuse3.RequestContext) -> pyfuse3.FileInfo:
        if self.disk.getattr(inode).kind != "file":
            raise pyfuse3.FUSEError(errno.EISDIR)
        if flags & os.O_TRUNC:
            self.disk.setattr(inode, _now(), size=0)
        self.disk.open(inode)
        fh = self._handle()
        self.files[fh] = inode
        return pyfuse3.FileInfo(fh=fh)

    @request()
    async def read(self, fh: int, off: int, size: int) -> bytes:
        return self.disk.read(self._file(fh), off, size)

    @request()
    async def write(self, fh: int, off: int, buf: bytes) -> int:
        return self.disk.write(self._file(fh), off, buf, _now())

    @request(when_failed=True)
    async def flush(self, fh: int) -> None:
        """close(): not a durability point, on a real disk neither."""

    @request(when_failed=True)
    async def release(self, fh: int) -> None:
        ino = self.files.pop(fh, None)
        if ino is not None:
            self.disk.release(ino)

    @request()
    async def fsync(self, fh: int, datasync: bool) -> None:
        self.disk.fsync(self._file(fh), datasync)

    @request(when_failed=True)
    async def forget(self, inode_list: Sequence[tuple[int, int]]) -> None:
        """Inodes live until a power cut or until they are gone everywhere (cache.py)."""

    # --- directories -------------------------------------------------------------------

    @request()
    async def opendir(self, inode: int, ctx: pyfuse3.RequestContext) -> int:
        listing = self.disk.listdir(inode)
        fh = self._handle()
        self.dirs[fh] = (inode, listing)
        return fh

    @request()
    async def readdir(self, fh: int, start_id: int, token: pyfuse3.ReaddirToken) -> None:
        opened = self.dirs.get(fh)
        if opened is None:
            raise pyfuse3.FUSEError(errno.EBADF)
        ino, listing = opened
        if start_id == 0:  # a rewind sees the directory as it is now
            listing = self.disk.listdir(ino)
            self.dirs[fh] = (ino, listing)
        for index in range(start_id, len(listing)):
            name, st = listing[index]
            if not pyfuse3.readdir_reply(token, os.fsencode(name), self._entry(st), index + 1):
                break

    @request(when_failed=True)
    async def releasedir(self, fh: int) -> None:
        self.dirs.pop(fh, None)

    @request()
    async def fsyncdir(self, fh: int, datasync: bool) -> None:
        opened = self.dirs.get(fh)
        if opened is None:
            raise pyfuse3.FUSEError(errno.EBADF)
        self.disk.fsync(opened[0], datasync)
