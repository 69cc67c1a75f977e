"""The volume as a file: a FUSE filesystem with one regular file, `volume`, which the node
attaches to a loop device (DR-2). Every write, read and fsync of that file is a request to
the replication core; the answer comes when the core completes it.

Why a file on FUSE: this kernel has no DRBD, NBD, ublk or device-mapper (MACHINE-NOTES);
FUSE plus a loop device is the block device a user-space engine can offer. ext4's journal
commits arrive as FSYNC, which the core turns into flushes on both replicas.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Awaitable, Callable
from typing import Any

import pyfuse3

VOLUME = b"volume"
VOLUME_INODE = pyfuse3.ROOT_INODE + 1


class VolumeFS(pyfuse3.Operations):
    """`submit(kind, offset, payload)` hands a request to the engine and waits for it."""

    supports_dot_lookup = True
    enable_writeback_cache = False

    def __init__(
        self,
        size: int,
        submit: Callable[[str, int, Any], Awaitable[Any]],
        writable: Callable[[], str | None],
    ) -> None:
        super().__init__()
        self.size = size
        self.submit = submit
        self.writable = writable  # None if writes are allowed, else why not

    def _attrs(self, inode: int) -> pyfuse3.EntryAttributes:
        attrs = pyfuse3.EntryAttributes()
        attrs.st_ino = inode
        attrs.st_nlink = 1
        attrs.st_uid = attrs.st_gid = 0
        if inode == pyfuse3.ROOT_INODE:
            attrs.st_mode = stat.S_IFDIR | 0o700
        else:
            attrs.st_mode = stat.S_IFREG | 0o600
            attrs.st_size = self.size
            attrs.st_blksize = 4096
            attrs.st_blocks = self.size // 512
        attrs.attr_timeout = attrs.entry_timeout = 3600
        return attrs

    async def getattr(self, inode: int, ctx: Any = None) -> pyfuse3.EntryAttributes:
        if inode not in (pyfuse3.ROOT_INODE, VOLUME_INODE):
            raise pyfuse3.FUSEError(errno.ENOENT)
        return self._attrs(inode)

    async def lookup(self, parent: int, name: bytes, ctx: Any = None) -> pyfuse3.EntryAttributes:
        if parent == pyfuse3.ROOT_INODE and name == VOLUME:
            return self._attrs(VOLUME_INODE)
        if name in (b".", b".."):
            return self._attrs(pyfuse3.ROOT_INODE)
        raise pyfuse3.FUSEError(errno.ENOENT)

    async def opendir(self, inode: int, ctx: Any) -> int:
        return inode

    async def readdir(self, fh: int, start_id: int, token: Any) -> None:
        if start_id == 0:
            pyfuse3.readdir_reply(token, VOLUME, self._attrs(VOLUME_INODE), 1)

    async def releasedir(self, fh: int) -> None:
        return None

    async def open(self, inode: int, flags: int, ctx: Any) -> pyfuse3.FileInfo:
        if inode != VOLUME_INODE:
            raise pyfuse3.FUSEError(errno.EISDIR)
        if flags & (os.O_WRONLY | os.O_RDWR) and self.writable() is not None:
            # The Secondary's replica is not a device anyone may write (DR-3).
            raise pyfuse3.FUSEError(errno.EROFS)
        return pyfuse3.FileInfo(fh=VOLUME_INODE, keep_cache=False)

    async def read(self, fh: int, off: int, size: int) -> bytes:
        size = max(0, min(size, self.size - off))
        if not size:
            return b""
        data: bytes = await self.submit("read", off, size)
        return data

    async def write(self, fh: int, off: int, buf: bytes) -> int:
        if off + len(buf) > self.size:
            raise pyfuse3.FUSEError(errno.ENOSPC)
        await self.submit("write", off, buf)
        return len(buf)

    async def fsync(self, fh: int, datasync: bool) -> None:
        await self.submit("flush", 0, None)

    async def flush(self, fh: int) -> None:
        return None  # close(): nothing of ours is buffered

    async def release(self, fh: int) -> None:
        return None

    async def statfs(self, ctx: Any) -> pyfuse3.StatvfsData:
        data = pyfuse3.StatvfsData()
        data.f_bsize = data.f_frsize = 4096
        data.f_blocks = self.size // 4096
        data.f_namemax = 255
        return data

    async def setattr(
        self, inode: int, attr: Any, fields: Any, fh: int | None, ctx: Any
    ) -> pyfuse3.EntryAttributes:
        if fields.update_size and attr.st_size != self.size:
            raise pyfuse3.FUSEError(errno.EPERM)  # the volume's size is fixed
        return self._attrs(inode)
