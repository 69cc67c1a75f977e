"""Files tandem writes inside a container's root filesystem at start (as vzctl did:
"Hostname for VE set", "File resolv.conf was modified"): /etc/hostname, /etc/hosts and
/etc/resolv.conf, from the definition; and files it changes on request (`edit`: root's
password in /etc/shadow, shadow.py).

The root filesystem belongs to the container, and its root user may have replaced any
path with a symbolic link to somewhere on the node (/etc -> /); writing through such a
link would write the node's files. So every path is opened one component at a time
relative to the container's root, refusing to follow links.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from tandem.containers.definition import Definition
from tandem.containers.errors import ContainerError

MARK = "# tandem"


class MissingFile(ContainerError):
    """The file (or a directory on its way) does not exist in the container."""


@contextlib.contextmanager
def _directory(root: Path, parts: tuple[str, ...]) -> Iterator[int]:
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts:
            next_fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        yield fd
    finally:
        os.close(fd)


def read(root: Path, relative: str) -> str | None:
    """The file's text, or None when it is missing or reached through a link."""
    parts = Path(relative).parts
    try:
        with _directory(root, parts[:-1]) as dir_fd:
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
            with os.fdopen(fd, "rb") as f:
                return f.read().decode(errors="replace")
    except OSError:
        return None


def write(root: Path, relative: str, text: str, mode: int = 0o644) -> bool:
    """Replace the file; False (nothing written) when a directory on the way is a link.
    A link in the last place (resolv.conf managed by systemd-resolved) is replaced."""
    parts = Path(relative).parts
    try:
        with _directory(root, parts[:-1]) as dir_fd:
            name = parts[-1]
            tmp = f".{name}.tandem"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=dir_fd)
            fd = os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=dir_fd
            )
            with os.fdopen(fd, "wb") as f:
                f.write(text.encode())
            os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            return True
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
            return False
        raise


def edit(root: Path, relative: str, change: Callable[[str], str]) -> None:
    """Replace a regular file with `change(its text)`, atomically, keeping its mode and
    owner; raises ContainerError with the reason when it cannot be done safely.

    Unlike `write`, a link in the last place is refused too, and so is reading through
    one: what is read here is written back into the container, so following a link to
    the node's /etc/shadow would hand the node's hashes to the container. The new file is
    made beside the old one and renamed over it, so the old inode (which might have other
    names) is never written, and a crash leaves the old file or the new one.
    """
    parts = Path(relative).parts
    shown = "/" + relative
    try:
        with _directory(root, parts[:-1]) as dir_fd:
            name = parts[-1]
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
            with os.fdopen(fd, "rb") as f:
                st = os.fstat(f.fileno())
                if not stat.S_ISREG(st.st_mode):
                    raise ContainerError(f"{shown} is not a regular file")
                text = f.read().decode()
            _replace(dir_fd, name, change(text).encode(), st)
    except UnicodeDecodeError:
        raise ContainerError(f"{shown} is not a text file") from None
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise MissingFile(f"{shown} is missing") from None
        raise ContainerError(_unsafe(shown, exc)) from None


def read_regular(root: Path, relative: str) -> str:
    """A regular file's text, never through a link; ContainerError with the reason."""
    parts = Path(relative).parts
    shown = "/" + relative
    try:
        with _directory(root, parts[:-1]) as dir_fd:
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    raise ContainerError(f"{shown} is not a regular file")
                return f.read().decode(errors="replace")
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise MissingFile(f"{shown} is missing") from None
        raise ContainerError(_unsafe(shown, exc)) from None


def _replace(dir_fd: int, name: str, data: bytes, old: os.stat_result) -> None:
    tmp = f".{name}.tandem-{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchown(f.fileno(), old.st_uid, old.st_gid)
            os.fchmod(f.fileno(), stat.S_IMODE(old.st_mode))  # after chown, which clears setuid
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    os.fsync(dir_fd)


def _unsafe(shown: str, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return (
            f"{shown} or a directory on its way is a symbolic link, which tandem does not "
            "follow in a container (it could lead to the node's own files); make it a "
            "regular file inside the container"
        )
    if exc.errno == errno.ENOTDIR:
        return f"a directory on the way to {shown} is a symbolic link or not a directory"
    return f"{shown}: {exc.strerror}"


def hosts_text(current: str | None, defn: Definition) -> str:
    """/etc/hosts with the container's own line (marked) replaced and other lines kept."""
    keep = [line for line in (current or "").splitlines() if not line.rstrip().endswith(MARK)]
    if not any(line.split()[:2] == ["127.0.0.1", "localhost"] for line in keep if line.split()):
        keep.insert(0, "127.0.0.1 localhost")
    short = defn.hostname.split(".")[0]
    names = defn.hostname if short == defn.hostname else f"{defn.hostname} {short}"
    address = str(defn.addresses[0]) if defn.addresses else "127.0.1.1"
    return "\n".join([*keep, f"{address} {names} {MARK}"]) + "\n"


def resolv_text(defn: Definition) -> str:
    lines = ["# written by tandem from the container's definition (tandem ve set --nameserver)"]
    if defn.searchdomains:
        lines.append(f"search {' '.join(defn.searchdomains)}")
    lines += [f"nameserver {a}" for a in defn.nameservers]
    return "\n".join(lines) + "\n"


def configure(root: Path, defn: Definition) -> list[str]:
    """Write what the definition says into the root filesystem; returns what was skipped."""
    skipped = []
    if not write(root, "etc/hostname", defn.hostname + "\n"):
        skipped.append("/etc/hostname")
    if not write(root, "etc/hosts", hosts_text(read(root, "etc/hosts"), defn)):
        skipped.append("/etc/hosts")
    if (defn.nameservers or defn.searchdomains) and not write(
        root, "etc/resolv.conf", resolv_text(defn)
    ):
        skipped.append("/etc/resolv.conf")
    return skipped


def resolve(root: Path, relative: str, hops: int = 40) -> Path | None:
    """Where `relative` leads inside the container's root, following its links as the
    container would see them (an absolute link is relative to its root, and ".." never
    leaves it); None when it leads nowhere. Only reads, so following links is safe."""
    parts = list(Path(relative).parts)
    here: list[str] = []
    while parts:
        part = parts.pop(0)
        if part in ("", ".", "/"):
            continue
        if part == "..":
            if here:
                here.pop()
            continue
        candidate = root.joinpath(*here, part)
        if candidate.is_symlink():
            hops -= 1
            if hops < 0:
                return None
            target = candidate.readlink()
            if target.is_absolute():
                here = []
            parts = list(target.parts) + parts
            continue
        if not candidate.exists():
            return None
        here.append(part)
    return root.joinpath(*here)


def init_program(root: Path) -> str:
    """What /sbin/init is in this root filesystem (busybox, systemd or sysvinit), to
    know how LXC must ask it to halt. /sbin may itself be a link (merged /usr)."""
    target = resolve(root, "sbin/init")
    if target is None:
        return "sysvinit"
    if target.name == "busybox":
        return "busybox"
    if target.name == "systemd":
        return "systemd"
    return "sysvinit"
