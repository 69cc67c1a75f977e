"""Which node mails an event, so that the operator gets each one once (NT-1).

Most events are recorded by one node only (the node that took over, the node whose
container stopped, the node whose disk failed): that node mails them. Some are noticed by
both nodes at once (a heartbeat path lost or back, the replication link dropped): their
producers mark them as cluster-wide with `cluster_details()`, and the rule is

    node1 mails a cluster-wide event; node2 mails it only while node1 is dead
    (as node2's membership sees it), because then node1 cannot.

When node2 cannot tell (its membership does not answer), it waits up to UNDECIDED_WAIT
seconds and then mails anyway: a mail twice is better than none. Within one node a
cluster-wide event whose dedupe key was mailed already is not mailed again.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from tandem.eventlog.log import Event

UNDECIDED_WAIT = 60.0
BUCKET = 60  # seconds: the same kind and subject within one minute is one notification

Decision = Literal["mail", "skip", "wait"]


def cluster_details(
    kind: str, subject: str, when: float | None = None, **details: Any
) -> dict[str, Any]:
    """Details for an event that both nodes record (a path down, the link lost): both
    compute the same dedupe key from the kind, what it is about, and the minute."""
    bucket = int((time.time() if when is None else when) // BUCKET)
    return {**details, "scope": "cluster", "dedupe": f"{kind}:{subject}:{bucket}"}


def is_cluster_wide(event: Event) -> bool:
    return event.details.get("scope") == "cluster"


def decide(event: Event, me: str, peer_alive: bool | None, now: float) -> Decision:
    """Mail, skip (the other node mails it), or wait (cannot tell yet)."""
    if event.details.get("mail") is False:
        return "skip"
    if not is_cluster_wide(event) or me == "node1":
        return "mail"
    if peer_alive is False:
        return "mail"
    if peer_alive is True:
        return "skip"
    return "mail" if now - event.time >= UNDECIDED_WAIT else "wait"
