"""The durable side of a lab disk: the node's real directory on the host.

Whatever this store holds is what the node finds after a power cut, so it is changed
only when the model (cache.py) makes something durable. It keeps one open file per inode
that needs one: an inode whose contents were flushed before its name was committed holds
them in an anonymous file (O_TMPFILE), invisible in the directory, linked in by name when
the name is committed (linkat with AT_EMPTY_PATH), and gone when the store is reset;
an open file whose name was removed keeps its unlinked file open, as a kernel would.

Nothing here calls fsync: the host does not lose power in the lab, and the disk's
durability is a matter of what this directory holds, not of the host's own cache.
"""

# Plain os calls on str paths and descriptors: this is the disk's hot path, and most of
# them take a descriptor, which pathlib cannot.
# ruff: noqa: PTH101, PTH102, PTH104, PTH106, PTH108, PTH116, PTH118

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from tandem.lab.disk.types import Attributes, Buffer, DiskError, Entry, Kind, StorePath

AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
IOV_MAX = 1024
_libc = ctypes.CDLL(None, use_errno=True)


def _link_fd(fd: int, target: str) -> None:
    """linkat(fd, "", AT_FDCWD, target, AT_EMPTY_PATH): give an open file a name. (The
    /proc/self/fd route fails with EXDEV on this kernel; Python has no AT_EMPTY_PATH.)"""
    if _libc.linkat(fd, b"", AT_FDCWD, os.fsencode(target), AT_EMPTY_PATH) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), target)


def _entry(name: str, st: os.stat_result) -> Entry | None:
    if stat.S_ISDIR(st.st_mode):
        kind: Kind = "dir"
    elif stat.S_ISREG(st.st_mode):
        kind = "file"
    else:
        return None  # this disk holds files and directories only
    attrs = Attributes(
        stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_atime_ns, st.st_mtime_ns,
        st.st_ctime_ns,
    )  # fmt: skip
    return Entry(name, kind, st.st_size if kind == "file" else 0, attrs)


class DirectoryStore:
    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self.fds: dict[int, int] = {}

    def _path(self, path: StorePath) -> str:
        return os.path.join(self.root, *path)

    def _fd(self, ino: int, path: StorePath | None, create: bool = False) -> int:
        fd = self.fds.get(ino)
        if fd is not None:
            return fd
        if path is not None:
            fd = os.open(self._path(path), os.O_RDWR | os.O_CLOEXEC)
        elif create:
            fd = os.open(self.root, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
        else:
            raise DiskError(errno.EBADF, f"inode {ino} has no durable contents")
        self.fds[ino] = fd
        return fd

    # --- the Store interface -----------------------------------------------------------

    def stat(self, path: StorePath) -> Entry:
        entry = _entry(path[-1] if path else "", os.stat(self._path(path), follow_symlinks=False))
        if entry is None:
            raise DiskError(errno.EINVAL, f"{self._path(path)} is neither file nor directory")
        return entry

    def listdir(self, path: StorePath) -> list[Entry]:
        found = []
        with os.scandir(self._path(path)) as entries:
            for item in entries:
                entry = _entry(item.name, item.stat(follow_symlinks=False))
                if entry is not None:
                    found.append(entry)
        return found

    def read(self, ino: int, path: StorePath | None, offset: int, size: int) -> bytes:
        fd = self._fd(ino, path)
        data = os.pread(fd, size, offset)
        if len(data) == size or not data:
            return data
        pieces = [data]
        got = len(data)
        while got < size:
            more = os.pread(fd, size - got, offset + got)
            if not more:
                break
            pieces.append(more)
            got += len(more)
        return b"".join(pieces)

    def write(
        self, ino: int, path: StorePath | None, offset: int, buffers: Sequence[Buffer]
    ) -> None:
        fd = self._fd(ino, path, create=True)
        for start in range(0, len(buffers), IOV_MAX):
            batch = buffers[start : start + IOV_MAX]
            total = sum(len(b) for b in batch)
            done = os.pwritev(fd, batch, offset)
            if done != total:  # short write: finish the rest one buffer at a time
                joined = memoryview(b"".join(batch))
                while done < total:
                    done += os.pwrite(fd, joined[done:], offset + done)
            offset += total

    def truncate(self, ino: int, path: StorePath | None, size: int) -> None:
        os.ftruncate(self._fd(ino, path, create=True), size)

    def set_attributes(
        self, ino: int, path: StorePath | None, kind: Kind, attrs: Attributes
    ) -> None:
        target: int | str = self._fd(ino, path) if kind == "file" else self._path(path or ())
        self._apply(target, attrs)

    @staticmethod
    def _apply(target: int | str, attrs: Attributes) -> None:
        st = os.stat(target)
        if (st.st_uid, st.st_gid) != (attrs.uid, attrs.gid):
            os.chown(target, attrs.uid, attrs.gid)
        if stat.S_IMODE(st.st_mode) != attrs.mode:
            os.chmod(target, attrs.mode)
        os.utime(target, ns=(attrs.atime_ns, attrs.mtime_ns))

    def link(self, ino: int, path: StorePath, attrs: Attributes) -> None:
        target = self._path(path)
        fd = self.fds.get(ino)
        if fd is None:
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        else:
            try:
                _link_fd(fd, target)
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.EPERM, errno.EXDEV, errno.EINVAL):
                    raise
                self._copy_into(ino, fd, target)  # not an O_TMPFILE, or not allowed
        self._apply(target, attrs)

    def _copy_into(self, ino: int, fd: int, target: str) -> None:
        new = os.open(target, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_CLOEXEC, 0o600)
        size = os.fstat(fd).st_size
        done = 0
        while done < size:
            copied = os.copy_file_range(fd, new, size - done, done, done)
            if copied == 0:
                break
            done += copied
        os.close(fd)
        self.fds[ino] = new

    def retain(self, ino: int, path: StorePath) -> None:
        self._fd(ino, path)

    def forget(self, ino: int) -> None:
        fd = self.fds.pop(ino, None)
        if fd is not None:
            os.close(fd)

    def unlink(self, path: StorePath) -> None:
        os.unlink(self._path(path))

    def rename(self, source: StorePath, target: StorePath) -> None:
        os.rename(self._path(source), self._path(target))

    def mkdir(self, path: StorePath, attrs: Attributes) -> None:
        target = self._path(path)
        os.mkdir(target, 0o700)
        self._apply(target, attrs)

    def rmdir(self, path: StorePath) -> None:
        os.rmdir(self._path(path))

    def reset(self) -> None:
        for fd in self.fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds.clear()

    # --- for the filesystem ------------------------------------------------------------

    def statvfs(self) -> os.statvfs_result:
        return os.statvfs(self.root)
