"""What goes into the replication core and what comes out of it: plain frozen data.

Data travels as `bytes` inside events and actions; the core never copies it. Every I/O the
core wants done carries an `io` number and comes back as `IoDone` with that number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# --- from the filesystem (the Primary's applications) ---------------------------------


@dataclass(frozen=True)
class AppWrite:
    req: int
    offset: int
    data: bytes


@dataclass(frozen=True)
class AppFlush:
    req: int


@dataclass(frozen=True)
class AppRead:
    req: int
    offset: int
    length: int


# --- from the local disk and the link ---------------------------------------------------


@dataclass(frozen=True)
class IoDone:
    io: int
    ok: bool = True
    data: bytes | None = None


@dataclass(frozen=True)
class LinkUp:
    """An authenticated connection to the peer's replica exists."""


@dataclass(frozen=True)
class LinkDown:
    reason: str


@dataclass(frozen=True)
class PeerMsg:
    msg: Any  # one of messages.py's classes


@dataclass(frozen=True)
class Tick:
    pass


# --- from the failover logic and the operator ---------------------------------------------


@dataclass(frozen=True)
class Promote:
    """Become Primary. `force` overrides the data checks (an operator's explicit action);
    `peer_confirmed` says the failover logic knows the peer did not write alone (the
    witness records no newer generation, or the peer was fenced while this node kept
    running since it last saw the peer). Whoever confirms also records the absent peer as
    Outdated before the promotion (the witness), so that the peer, booting alone later,
    is never confirmed on the data it missed."""

    force: bool = False
    peer_confirmed: bool = False


@dataclass(frozen=True)
class Demote:
    pass


@dataclass(frozen=True)
class PeerOutdated:
    """The peer is known not to be promotable without syncing from us first (it persisted
    Outdated, or the witness recorded it, or it was fenced)."""

    token: int


@dataclass(frozen=True)
class OutdateRequested:
    """The peer (the Primary) asks this replica to mark itself Outdated."""

    token: int


@dataclass(frozen=True)
class Verify:
    pass


@dataclass(frozen=True)
class Resolve:
    """Resolve a split brain: `discard` is this replica's own changes (True) or the
    peer's (False)."""

    discard_mine: bool


@dataclass(frozen=True)
class Invalidate:
    """Throw this replica's data away and take a full sync from the peer (seed 7.2:
    "Hole DRBD Daten vom anderen Knoten")."""


@dataclass(frozen=True)
class Initialize:
    """Make this replica's (empty) disk the start of a new data set: a new generation,
    UpToDate; the peer takes a full sync from it (seed 7.3, "Zerstoere alle Daten")."""


@dataclass(frozen=True)
class Connect:
    """Leave StandAlone and connect again."""


Event = (
    AppWrite
    | AppFlush
    | AppRead
    | IoDone
    | LinkUp
    | LinkDown
    | PeerMsg
    | Tick
    | Promote
    | Demote
    | PeerOutdated
    | OutdateRequested
    | Verify
    | Resolve
    | Invalidate
    | Connect
    | Initialize
)

# --- actions -------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalWrite:
    io: int
    offset: int
    data: bytes


@dataclass(frozen=True)
class LocalFlush:
    io: int


@dataclass(frozen=True)
class LocalRead:
    io: int
    offset: int
    length: int


@dataclass(frozen=True)
class PersistMeta:
    """Write the metadata (generations, disk state, activity log, bitmap) durably."""

    io: int
    meta: dict[str, Any]


@dataclass(frozen=True)
class Send:
    msg: Any


@dataclass(frozen=True)
class Complete:
    req: int
    ok: bool = True
    data: bytes | None = None
    error: str = ""


@dataclass(frozen=True)
class DropLink:
    reason: str


@dataclass(frozen=True)
class RequestOutdate:
    """Ask the failover logic to make the peer Outdated by another way than the link."""

    token: int


@dataclass(frozen=True)
class OutdateDone:
    """This replica persisted Outdated for the peer's request `token`."""

    token: int


@dataclass(frozen=True)
class Notice:
    kind: str
    sentence: str
    data: dict[str, Any] = field(default_factory=dict)


Action = (
    LocalWrite
    | LocalFlush
    | LocalRead
    | PersistMeta
    | Send
    | Complete
    | DropLink
    | RequestOutdate
    | OutdateDone
    | Notice
)
