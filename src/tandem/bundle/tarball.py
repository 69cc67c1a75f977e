"""Writing and strictly reading the tar files a bundle is made of.

The reader accepts exactly what the writer makes (ustar, regular files, no gaps) and
checks every byte it does not hand out: the padding after each member and the end of the
archive must be zeros. So any one byte changed anywhere in the file is either in a checked
header, in a member (caught by its checksum in the manifest), or in a padding byte that
must be zero: a changed bundle is always refused, never half-read (OP-1).
"""

from __future__ import annotations

import io
import re
import tarfile

from tandem.errors import TandemError

BLOCK = 512
MAX_MEMBERS = 256
MAX_MEMBER_BYTES = 16 << 20
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}(/[A-Za-z0-9_][A-Za-z0-9._-]{0,99}){0,4}$")


class BundleRefused(TandemError):
    """The bundle cannot be used; the sentence says why. Nothing was changed."""


def write_tar(members: list[tuple[str, bytes, int]], mtime: float) -> bytes:
    """A ustar archive of (name, content, mode) in the given order, owned by root."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, content, mode in members:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = mode
            info.mtime = int(mtime)
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def read_tar(data: bytes, what: str = "the bundle") -> dict[str, bytes]:
    """Members by name, in order; BundleRefused if the archive is damaged or truncated."""
    if len(data) < 2 * BLOCK:
        raise BundleRefused(f"{what} is truncated: {len(data)} bytes is not even an empty tar")
    if len(data) % BLOCK:
        raise BundleRefused(
            f"{what} is truncated: its length ({len(data)} bytes) is not a whole number of "
            "tar blocks"
        )
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            end = 0
            for info in tar:
                end = _read_member(tar, info, data, end, members, what)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BundleRefused(f"{what} is damaged or truncated ({exc})") from None
    if len(data) - end < 2 * BLOCK:
        raise BundleRefused(f"{what} is truncated: the end-of-archive marker is missing")
    # tar pads the archive to whole records; a shorter file lost its end.
    whole = -(-(end + 2 * BLOCK) // tarfile.RECORDSIZE) * tarfile.RECORDSIZE
    if len(data) < whole:
        raise BundleRefused(f"{what} is truncated: {len(data)} bytes of {whole}")
    if any(data[end:]):
        raise BundleRefused(
            f"{what} was changed or is damaged: the bytes after its last complete member "
            f"({next(reversed(members), 'none')}) are not the end of a tar"
        )
    return members


def _read_member(
    tar: tarfile.TarFile,
    info: tarfile.TarInfo,
    data: bytes,
    offset: int,
    members: dict[str, bytes],
    what: str,
) -> int:
    """Check and read one member that should start at `offset`; return where it ends."""
    if len(members) >= MAX_MEMBERS:
        raise BundleRefused(f"{what} has more than {MAX_MEMBERS} members")
    _check_member(info, what, members)
    if info.offset != offset or info.offset_data != info.offset + BLOCK:
        raise BundleRefused(f"{what} is damaged: unexpected layout at {info.name}")
    # The header checksum covers every header byte but the end of its own field, which
    # tar writes as NUL and space; tarfile does not look at them.
    if data[info.offset + 154 : info.offset + 156] != b"\0 ":
        raise BundleRefused(f"{what} was changed: the header of {info.name}")
    source = tar.extractfile(info)
    content = source.read() if source is not None else b""
    end = info.offset_data + _blocks(info.size)
    if len(content) != info.size or end > len(data):
        raise BundleRefused(f"{what} is truncated: it ends inside {info.name}")
    if any(data[info.offset_data + info.size : end]):
        raise BundleRefused(f"{what} was changed: padding after {info.name}")
    members[info.name] = content
    return end


def _blocks(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _check_member(info: tarfile.TarInfo, what: str, seen: dict[str, bytes]) -> None:
    if not info.isreg():
        raise BundleRefused(f"{what} holds {info.name!r}, which is not a regular file")
    if not NAME.match(info.name) or ".." in info.name.split("/"):
        raise BundleRefused(f"{what} holds a member with an unsafe name: {info.name!r}")
    if info.name in seen:
        raise BundleRefused(f"{what} holds {info.name} twice")
    if info.size > MAX_MEMBER_BYTES:
        raise BundleRefused(f"{what} holds {info.name} of {info.size} bytes; too large")
