"""Messages between the two replicas on the replication link."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Hello:
    node: int
    size: int
    current: int
    bitmap: int
    history: tuple[int, ...]
    disk: str
    primary: bool
    dirty: tuple[tuple[int, int], ...]  # out-of-sync blocks as (start, count) ranges
    was_primary: bool  # crashed or stopped while Primary: its activity log is dirty


@dataclass(frozen=True)
class Data:
    seq: int
    offset: int
    data: bytes


@dataclass(frozen=True)
class Ack:
    seq: int  # every Data and Flush up to here (protocol C: written; B: received)


@dataclass(frozen=True)
class Flush:
    seq: int


@dataclass(frozen=True)
class FlushAck:
    seq: int


@dataclass(frozen=True)
class SyncStart:
    current: int  # the source's generation the target becomes once it has everything
    full: bool
    blocks: int


@dataclass(frozen=True)
class SyncData:
    block: int
    data: bytes


@dataclass(frozen=True)
class SyncAck:
    block: int


@dataclass(frozen=True)
class SyncDone:
    current: int


@dataclass(frozen=True)
class VerifyStart:
    blocks: int


@dataclass(frozen=True)
class VerifyBlock:
    block: int
    digest: bytes


@dataclass(frozen=True)
class VerifyReply:
    block: int  # the run's first block
    differing: tuple[int, ...]  # the blocks whose checksums differ


@dataclass(frozen=True)
class VerifyDone:
    differing: int


@dataclass(frozen=True)
class ReadReq:
    id: int
    offset: int
    length: int


@dataclass(frozen=True)
class ReadReply:
    id: int
    data: bytes | None


@dataclass(frozen=True)
class State:
    """The sender's role or disk changed."""

    primary: bool
    disk: str


@dataclass(frozen=True)
class Ping:
    n: int


@dataclass(frozen=True)
class Pong:
    n: int


Message = Any
