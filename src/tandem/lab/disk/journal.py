"""The disk's unflushed namespace changes, in the order they were made.

A directory fsync (or a sync) commits the whole journal, in order, the way a journaling
filesystem commits its running transaction: so the durable namespace is always the
namespace as it was at some earlier moment, never a mix (a rename is never half done,
a file is never in two directories). Ops name inodes, not paths: a path is worked out
from the durable namespace when the op is applied.
"""

from __future__ import annotations

from dataclasses import dataclass

from tandem.lab.disk.types import Kind


@dataclass(frozen=True)
class Created:
    """`open(O_CREAT)` or `mkdir` (the attributes are the inode's, see cache.Inode)."""

    ino: int
    parent: int
    name: str
    kind: Kind


@dataclass(frozen=True)
class Removed:
    """`unlink` or `rmdir`."""

    ino: int
    parent: int
    name: str


@dataclass(frozen=True)
class Renamed:
    """`rename`; `replaced` is the inode that the target name pointed at, if any."""

    ino: int
    parent: int
    name: str
    new_parent: int
    new_name: str
    replaced: int | None


Op = Created | Removed | Renamed
