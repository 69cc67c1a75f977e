"""root's password of container 101 (MG-2 Passwords) from either node's page.

Containers live on the active node's /vz. The node that has the container sets it there
(containers/shadow.py: in its /etc/shadow, never through a link, running or stopped);
the other node (its /vz is not mounted: the passive one) sends the hash to its peer over
the node-to-node API, which does the same on its side and never forwards again. The
outcome names the node that applied it.

Unlike the node passwords, nothing is kept for later when the peer does not answer: the
container may be on another node by then, and a password that changes later, unasked,
is worse than a clear "not done".
"""

from __future__ import annotations

import asyncio

from tandem.containers import shadow
from tandem.containers.errors import ContainerError
from tandem.containers.ids import FIRST_USER_VEID, parse_veid
from tandem.containers.layout import is_mountpoint
from tandem.errors import TandemError
from tandem.web.api.containers import manager_of
from tandem.web.changes import NodeOutcome, Outcome
from tandem.web.context import Web
from tandem.web.passwords import root_hash
from tandem.web.peer import PeerRefused, PeerUnreachable

VEID = FIRST_USER_VEID  # the seed's "VE 101"
PEER_PATH = "/peer/container/password"


class NotHere(TandemError):
    """The container is not on this node; the message says why."""


class Nowhere(TandemError):
    """Neither node has the container."""

    def __init__(self, veid: int, reasons: list[str]) -> None:
        self.veid = veid
        self.reasons = reasons
        super().__init__("; ".join(reasons))


def apply_here(web: Web, veid: int, hashed: str, asked: str) -> None:
    """Set it in the container on this node's /vz; NotHere when it is not here."""
    number = parse_veid(veid)
    containers = manager_of(web)
    layout = containers.layout
    if not is_mountpoint(layout.root):
        raise NotHere(f"{web.me}: {layout.root} is not mounted (it is not the active node)")
    if not layout.definition(number).is_file():
        raise NotHere(f"{web.me}: container {number} does not exist on its {layout.root}")
    shadow.set_root_password(containers, number, hashed, asked)


async def set_root_password(web: Web, veid: int, password: str) -> Outcome:
    """Here if the container is here, else on the peer; Nowhere when neither has it."""
    hashed = await asyncio.to_thread(root_hash, password)
    asked = f"asked on the Passwords page of {web.me}"
    try:
        await asyncio.to_thread(apply_here, web, veid, hashed, asked)
    except NotHere as exc:
        here = str(exc)
    except (ContainerError, OSError) as exc:
        return Outcome({web.me: NodeOutcome("failed", str(exc))})
    else:
        return Outcome({web.me: NodeOutcome("applied", f"container {veid} is on {web.me}")})
    try:
        await web.peer.call("POST", PEER_PATH, {"veid": veid, "hash": hashed})
    except PeerUnreachable as exc:
        detail = f"{here}; {exc}: try again when {web.peer_id} answers"
        return Outcome({web.peer_id: NodeOutcome("failed", detail)})
    except PeerRefused as exc:
        if exc.status == 404:
            raise Nowhere(veid, [here, str(exc)]) from None
        return Outcome({web.peer_id: NodeOutcome("failed", str(exc))})
    detail = f"container {veid} is on {web.peer_id} ({here})"
    return Outcome({web.peer_id: NodeOutcome("applied", detail)})
