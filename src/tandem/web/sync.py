"""Bringing the two nodes back together: deliver what is pending, then agree on one
configuration (DESIGN invariant 5).

Runs every few seconds on both nodes. Pending entries go first, in order; a pending
configuration that meets a newer one on the peer loses (the newer change wins on both
nodes) and the loss is recorded as a notice, so the operator learns exactly which change
did not happen. With nothing pending, the nodes compare digests; the newer stamped file
wins. Two different files without stamps (edited by hand on both) are not guessed
between: the pages say so until an operator saves one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict
from typing import Any

from tandem.errors import TandemError
from tandem.web.changes import Changes
from tandem.web.journal import Entry, Journal
from tandem.web.peer import PeerClient, PeerRefused, PeerUnreachable
from tandem.web.store import ConfigStore, Stamp, digest

log = logging.getLogger("tandem.web.sync")
INTERVAL = 3.0


class Sync:
    def __init__(
        self, changes: Changes, journal: Journal, peer: PeerClient, store: ConfigStore
    ) -> None:
        self.changes = changes
        self.journal = journal
        self.peer = peer
        self.store = store
        self.peer_reachable: bool | None = None
        self.in_sync: bool | None = None
        self.differs: str | None = None
        self.checked: float | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "peer_reachable": self.peer_reachable,
            "in_sync": self.in_sync,
            "differs": self.differs,
            "checked": self.checked,
            "pending": [
                {
                    "id": e.id,
                    "kind": e.kind,
                    "target": e.target,
                    "summary": e.summary,
                    "created": e.created,
                }
                for e in self.journal.entries()
            ],
            "notices": [asdict(n) for n in self.journal.notices()],
        }

    async def run(self, interval: float = INTERVAL) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a bad round must not end the loop; the next one retries
                log.exception("configuration sync round failed")
            await asyncio.sleep(interval)

    async def run_once(self) -> None:
        try:
            for entry in self.journal.entries():
                await self._deliver(entry)
            await self._reconcile()
            self.peer_reachable = True
        except PeerUnreachable:
            self.peer_reachable = False
            self.in_sync = None
        self.checked = time.time()

    async def _deliver(self, entry: Entry) -> None:
        path = "/peer/config" if entry.kind == "config" else f"/peer/{entry.kind.replace('_', '/')}"
        try:
            await self.peer.call("POST", path, entry.payload)
            log.info("delivered pending %s to %s", entry.summary, entry.target)
        except PeerRefused as exc:
            if exc.status == 409 and "toml" in exc.data:
                theirs = Stamp(**exc.data["stamp"])
                self.changes.adopt(exc.data["toml"], theirs)
                self.journal.notice(
                    f"The change of {_when(entry.created)} ({entry.summary}) was not applied "
                    f"on {entry.target}: {theirs.origin} had a newer configuration "
                    f"(changed {_when(theirs.at)}), which both nodes now use."
                )
            else:
                self.journal.notice(
                    f"The change of {_when(entry.created)} ({entry.summary}) was refused by "
                    f"{entry.target}: {exc}. It is applied only on {self.changes.me}."
                )
        self.journal.remove(entry.id)

    async def _reconcile(self) -> None:
        reply = await self.peer.call("GET", "/peer/config")
        text = self.store.text()
        if reply.get("digest") == digest(text):
            self.in_sync, self.differs = True, None
            return
        theirs = Stamp(**reply["stamp"]) if reply.get("stamp") else None
        mine = self.store.stamp()
        if theirs is not None and (mine is None or theirs.at > mine.at):
            restarted = self.changes.adopt(str(reply["toml"]), theirs)
            log.info("took %s's newer configuration; restarted %s", theirs.origin, restarted)
            self.in_sync, self.differs = True, None
        elif mine is not None:
            await self.peer.call("POST", "/peer/config", {"toml": text, "stamp": asdict(mine)})
            self.in_sync, self.differs = True, None
        else:
            self.in_sync = False
            self.differs = (
                "the two nodes have different cluster.toml files, both edited outside the "
                "web; save the Network page on the node whose values are right"
            )


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


async def deliver_now(sync: Sync) -> None:
    """One round at once (after the peer is known to be back); errors are logged only."""
    try:
        await sync.run_once()
    except TandemError as exc:
        log.warning("sync round: %s", exc)
