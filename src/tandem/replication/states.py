"""The states operators know from DRBD (DR-3), as plain enumerations."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    PRIMARY = "Primary"
    SECONDARY = "Secondary"


class Disk(StrEnum):
    UP_TO_DATE = "UpToDate"
    # Data of a replica that lost its peer: current unless the peer wrote alone since.
    CONSISTENT = "Consistent"
    OUTDATED = "Outdated"  # the peer wrote without it; it knows
    INCONSISTENT = "Inconsistent"  # a sync into it is unfinished
    DISKLESS = "Diskless"  # no usable local disk (failed, or detached)


class Conn(StrEnum):
    STANDALONE = "StandAlone"  # will not connect by itself (split brain, operator)
    CONNECTING = "Connecting"
    CONNECTED = "Connected"
    SYNC_SOURCE = "SyncSource"
    SYNC_TARGET = "SyncTarget"
    VERIFY_SOURCE = "VerifySource"
    VERIFY_TARGET = "VerifyTarget"


LINKED = {
    Conn.CONNECTED,
    Conn.SYNC_SOURCE,
    Conn.SYNC_TARGET,
    Conn.VERIFY_SOURCE,
    Conn.VERIFY_TARGET,
}
