"""Which of the operator's kinds of events (`[notification] events`, NT-1) an event of
the log belongs to, so that the notifier mails only the chosen ones.

The event log's own kinds are what the recording code knows ("self-fence", "resource",
"hardware"); the operator chooses among the groups of NT-1's list instead. The disks are
their own group although the hardware monitor records them as "hardware": NT-1 names them
apart, and a degraded RAID matters to people who do not want a mail for every fan. A kind
that no group names (a new one, or remote support) is "other", so that it is mailed by
default and can still be switched off.
"""

from __future__ import annotations

from tandem.eventlog.log import Event

BY_LOG_KIND = {
    "failover": "failover",
    "switchover": "failover",
    "start": "failover",
    "failure": "failover",
    "fence": "failover",
    "self-fence": "failover",
    "updates": "updates",
    "path": "paths",
    "volume": "replication",
    "replication": "replication",
    "container": "containers",
    "resource": "containers",
    "hardware": "hardware",
}
DISK_ITEMS = ("raid", "disk")  # the hardware monitor's items "raid md0", "disk /dev/sda"
DISK_TOOLS = ("tool raid", "tool disks")  # the RAID and SMART readings came or went


def kind_of(event: Event) -> str:
    """The operator's kind of an event: one of tandem.config.model.EVENT_KINDS."""
    kind = BY_LOG_KIND.get(event.kind, "other")
    if kind == "hardware":
        item = str(event.details.get("item", ""))
        if item.split(" ", 1)[0] in DISK_ITEMS or item in DISK_TOOLS:
            return "disks"
    return kind


def chosen(event: Event, kinds: list[str]) -> bool:
    """Whether the operator wants this event mailed."""
    return kind_of(event) in kinds
