"""What goes into the membership core and what comes out of it: plain frozen data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tandem.membership.wire import PathName


# --- events in ---------------------------------------------------------------------
@dataclass(frozen=True)
class Tick:
    """Time passed; the core checks its deadlines."""


@dataclass(frozen=True)
class BeatReceived:
    """An authenticated heartbeat from the peer, on the path it arrived on."""

    path: PathName
    generation: int
    seq: int
    body: dict[str, Any]


@dataclass(frozen=True)
class WitnessReplied:
    generation: int
    seq: int
    body: dict[str, Any]


@dataclass(frozen=True)
class PingResult:
    target: str
    ok: bool


@dataclass(frozen=True)
class Want:
    """The failover logic wants to run the service group (True) or gives it up (False)."""

    want: bool


@dataclass(frozen=True)
class Released:
    """The failover logic has stopped every service of the group on this node, and no
    longer claims it (a later claim starts afresh)."""


@dataclass(frozen=True)
class PeerFenced:
    """The peer was fenced (powered off) by a fencing device; only used without witness."""


Event = Tick | BeatReceived | WitnessReplied | PingResult | Want | Released | PeerFenced


# --- actions out -------------------------------------------------------------------
@dataclass(frozen=True)
class SendBeat:
    paths: tuple[PathName, ...]
    seq: int
    body: dict[str, Any]


@dataclass(frozen=True)
class SendWitness:
    seq: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Notice:
    """Something an operator should read: one sentence, plus data for events and mail."""

    kind: str
    sentence: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SelfFence:
    """Give the services up now: they must be stopped before `deadline` (core time)."""

    deadline: float
    reason: str


@dataclass(frozen=True)
class HardReset:
    """The services were not released in time: reset the node (watchdog)."""

    reason: str


Action = SendBeat | SendWitness | Notice | SelfFence | HardReset
