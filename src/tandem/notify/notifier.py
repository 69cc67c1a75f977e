"""`tandem notify run`: turns the node's events into mails and delivers them (NT-1).

Each cycle (every second) looks at the event log only if it changed: every new event of a
kind the operator chose (`[notification] events`, kinds.py) is decided (mail, or leave it
to the other node, see scope.py), rendered in the configured language and put into the
queue on disk; then every queued mail that is due is handed to SMTP. A mail that cannot
be delivered stays queued and is tried again after 10 s, doubling to 10 minutes; mails
wait behind the oldest one, so they arrive in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tandem import rpc
from tandem.config import ClusterConfig, InvalidConfig, NodeId, load_config
from tandem.errors import TandemError
from tandem.eventlog.log import Event
from tandem.eventlog.log import read as read_events
from tandem.notify import compose
from tandem.notify.kinds import chosen
from tandem.notify.queue import MailQueue, Pending
from tandem.notify.scope import decide, is_cluster_wide
from tandem.notify.transport import DeliveryFailed, deliver
from tandem.rootdir import Root

log = logging.getLogger(__name__)

FIRST_BACKLOG = 3600.0  # at its very first start, events of the last hour are mailed
RETRY_FIRST = 10.0
RETRY_MAX = 600.0
RECENT_KEYS = 500


def password_file(root: Root) -> Path:
    return root.secrets / "smtp.password"


def read_password(root: Root) -> str | None:
    try:
        return password_file(root).read_text().strip() or None
    except FileNotFoundError:
        return None


def sender_of(cfg: ClusterConfig, hostname: str) -> str:
    return cfg.notification.sender or f"tandem@{hostname}"


class Notifier:
    def __init__(
        self,
        root: Root | None = None,
        *,
        hostname: str | None = None,
        peer_alive: Callable[[], bool | None] | None = None,
        clock: Callable[[], float] = time.time,
        retry_first: float = RETRY_FIRST,
    ) -> None:
        self.root = root or Root()
        self.queue = MailQueue(self.root.state / "mail")
        self.events_file = self.root.state / "events.jsonl"
        self.hostname = hostname or socket.gethostname()
        self.peer_alive = peer_alive or self._membership_peer_alive
        self.clock = clock
        self.retry_first = retry_first
        self.waiting: str | None = None
        self._seen: tuple[Any, ...] | None = None
        self._said: str | None = None

    # --- configuration -----------------------------------------------------------------

    def setup(self) -> tuple[ClusterConfig, NodeId] | str:
        """The configuration and this node's id, or why there are none yet."""
        try:
            cfg = load_config(self.root.config)
        except InvalidConfig as exc:
            return f"the configuration is not usable ({exc.issues[0].sentence()})"
        node = cfg.node_by_hostname(self.hostname)
        if node is None:
            return f"the configuration names no node with host name {self.hostname}"
        return cfg, node

    def _membership_peer_alive(self) -> bool | None:
        try:
            info = rpc.call(self.root.run / "membership.sock", "status", timeout=2.0)
        except TandemError:
            return None
        return {"alive": True, "dead": False}.get(str(info.get("peer_state")))

    # --- events into the queue -----------------------------------------------------------

    def _log_changed(self) -> bool:
        stamps: list[tuple[int, int, int] | None] = []
        for path in (self.events_file, self.events_file.with_name("events.jsonl.1")):
            try:
                st = path.stat()
                stamps.append((st.st_size, st.st_mtime_ns, st.st_ino))
            except FileNotFoundError:
                stamps.append(None)
        seen = tuple(stamps)
        changed = seen != self._seen
        self._seen = seen
        return changed

    def _new_events(self, status: dict[str, Any]) -> list[Event]:
        events = read_events(self.events_file)
        cursor = self.queue.cursor()
        if cursor is None:
            since = self.clock() - FIRST_BACKLOG
            old = [e for e in events if e.time < since]
            if old:
                _count(status, "backlog", len(old))
            return [e for e in events if e.time >= since]
        ids = [e.id for e in events]
        if cursor["id"] in ids:
            return events[ids.index(cursor["id"]) + 1 :]
        # The cursor's event was rotated away or the log was started anew: go by time.
        return [e for e in events if e.time > float(cursor["time"])]

    def collect(self) -> int:
        """Queue a mail for every new event this node is to mail; return how many."""
        if not self._log_changed() and self.waiting is None:
            return 0
        setup = self.setup()
        if isinstance(setup, str):
            self._wait(setup)
            self._seen = None  # look again next cycle
            return 0
        cfg, me = setup
        status = self.queue.status()
        keys: list[str] = list(status.get("recent_dedupe", []))
        peer: list[bool | None] = []  # asked at most once per cycle, and only when needed
        queued, last, self.waiting = 0, None, None
        for event in self._new_events(status):
            if not chosen(event, cfg.notification.events):
                # Not a kind the operator wants mailed: the event log keeps it, and it is
                # never queued, not even later when the choice changes (no old mails).
                _count(status, "not_chosen")
                last = event
                continue
            if is_cluster_wide(event) and me != "node1" and not peer:
                peer.append(self.peer_alive())
            decision = decide(event, me, peer[0] if peer else None, self.clock())
            if decision == "wait":
                self._wait(f"{event.id}: cannot tell yet whether node1 is alive to mail it")
                break
            key = str(event.details.get("dedupe", ""))
            if decision == "skip":
                _count(status, "left_to_other_node")
            elif key and key in keys:
                _count(status, "duplicate")
            elif not cfg.notification.address:
                _count(status, "no_address")
            else:
                self._queue(event, cfg)
                queued += 1
                if key:
                    keys = [*keys, key][-RECENT_KEYS:]
            last = event
        if last is not None:
            # Only now, with every mail file durable, does the cursor move past them.
            self.queue.set_cursor(last.id, last.time)
        status["recent_dedupe"] = keys
        status["waiting"] = self.waiting
        self.queue.save_status(status)
        return queued

    def _queue(self, event: Event, cfg: ClusterConfig) -> None:
        n = cfg.notification
        recipients = list(n.address)
        msg = compose.message(
            event, cluster=cfg.cluster.name, hostname=self.hostname,
            sender=sender_of(cfg, self.hostname), recipients=recipients, lang=n.language,
        )  # fmt: skip
        self.queue.put(Pending(event.id, self.clock(), recipients, msg.as_string(),
                               subject=str(msg["Subject"])))  # fmt: skip
        log.info("queued mail for %s: %s", event.id, msg["Subject"])

    def _wait(self, reason: str) -> None:
        self.waiting = reason
        if reason != self._said:
            log.info("waiting: %s", reason)
            self._said = reason

    # --- the queue to SMTP ---------------------------------------------------------------

    async def flush(self) -> int:
        """Hand every due mail to SMTP, oldest first; return how many were accepted."""
        now = self.clock()
        due = [m for m in self.queue.pending() if m.next_try <= now]
        if not due:
            return 0
        setup = self.setup()
        if isinstance(setup, str):
            self._wait(setup)
            return 0
        cfg, _ = setup
        password = read_password(self.root)
        sender = sender_of(cfg, self.hostname)
        sent = 0
        for mail in due:
            try:
                done = await deliver(mail.message, sender, mail.recipients, cfg.notification,
                                     password)  # fmt: skip
            except DeliveryFailed as exc:
                self._failed(mail, exc)
                break  # the others wait behind it, so that mails keep their order
            self.queue.done(mail.event_id)
            sent += 1
            self._sent(mail, done.via, done.accepted, done.refused)
        return sent

    def _failed(self, mail: Pending, exc: DeliveryFailed) -> None:
        mail.attempts += 1
        mail.last_error = str(exc)
        if exc.remaining:
            mail.recipients = exc.remaining
        delay = min(self.retry_first * 2 ** (mail.attempts - 1), RETRY_MAX)
        mail.next_try = self.clock() + delay
        self.queue.put(mail)
        status = self.queue.status()
        status["last_error"] = {"time": self.clock(), "event_id": mail.event_id,
                                "error": str(exc), "next_try": mail.next_try}  # fmt: skip
        _count(status, "failed_attempts")
        self.queue.save_status(status)
        log.warning("mail for %s not delivered (attempt %d, again in %.0f s): %s",
                    mail.event_id, mail.attempts, delay, exc)  # fmt: skip

    def _sent(self, mail: Pending, via: str, accepted: list[str], refused: dict[str, str]) -> None:
        status = self.queue.status()
        status["last_sent"] = {"time": self.clock(), "event_id": mail.event_id,
                               "subject": mail.subject, "via": via, "to": accepted}  # fmt: skip
        _count(status, "sent")
        if refused:
            status["last_error"] = {"time": self.clock(), "event_id": mail.event_id,
                                    "error": f"refused for good: {refused}"}  # fmt: skip
        self.queue.save_status(status)
        log.info("mail for %s accepted by %s for %s", mail.event_id, via, ", ".join(accepted))

    # --- the daemon ------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, period: float = 1.0) -> None:
        log.info("notifier started (pid %d), queue %s", os.getpid(), self.queue.dir)
        with contextlib.suppress(OSError):
            for mail in self.queue.pending():  # a fresh start tries every queued mail at once
                if mail.next_try > 0:
                    mail.next_try = 0.0
                    self.queue.put(mail)
        while not stop.is_set():
            try:
                self.collect()
                await self.flush()
            except OSError as exc:  # a full disk or the like: say so, try again
                log.warning("notifier cycle failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), period)


def _count(status: dict[str, Any], name: str, by: int = 1) -> None:
    counts = status.setdefault("counts", {})
    counts[name] = int(counts.get(name, 0)) + by
