"""A management action on both nodes, or an exact account of what did not happen
(DESIGN invariant 5).

Every change goes the same way: check it (nothing is saved if it is wrong, invariant 6);
if it restarts services, stop and ask unless the operator confirmed; apply it here; send
it to the peer. The outcome names, for each node, whether it was applied, was already so,
is pending (the peer is down: kept in the journal and delivered when it returns) or
failed, and why. The receiving side of the same protocol is `receive_*` below.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from tandem.config import ClusterConfig, NodeId, parse_config, peer_of
from tandem.config.write import render_config
from tandem.errors import TandemError
from tandem.web import passwords, restarts
from tandem.web.journal import Entry, Journal
from tandem.web.peer import PeerClient, PeerRefused, PeerUnreachable
from tandem.web.store import ConfigStore, Stamp, digest

State = Literal["applied", "unchanged", "pending", "failed", "not_tried"]


@dataclass
class NodeOutcome:
    state: State
    detail: str = ""
    restarted: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    nodes: dict[str, NodeOutcome]

    @property
    def complete(self) -> bool:
        return all(n.state in ("applied", "unchanged") for n in self.nodes.values())

    def as_dict(self) -> dict[str, Any]:
        return {"complete": self.complete, "nodes": {k: asdict(v) for k, v in self.nodes.items()}}


class NeedsConfirmation(TandemError):
    def __init__(self, services: list[str]) -> None:
        self.services = services
        super().__init__(
            f"this change restarts {', '.join(services)} on both nodes; send confirm=true"
        )


class Changes:
    def __init__(
        self,
        me: NodeId,
        store: ConfigStore,
        journal: Journal,
        peer: PeerClient,
        node_socket: Path,
        system_root: Path,
        htpasswd: Path,
    ) -> None:
        self.me = me
        self.peer_id: NodeId = peer_of(me)
        self.store = store
        self.journal = journal
        self.peer = peer
        self.node_socket = node_socket
        self.system_root = system_root
        self.htpasswd = htpasswd

    # --- configuration -----------------------------------------------------------------

    def restarts_for(self, new: ClusterConfig) -> list[str]:
        return sorted(restarts.affected(self.store.load(), new))

    async def change_config(self, new: ClusterConfig, confirm: bool, summary: str) -> Outcome:
        """`new` has passed validate_config already: the caller turned form errors into
        field errors before anything here runs."""
        old = self.store.load()
        services = sorted(restarts.affected(old, new))
        if services and not confirm:
            raise NeedsConfirmation(services)
        text = render_config(new)
        if text == self.store.text():
            mine = NodeOutcome("unchanged")
            stamp = self.store.stamp() or Stamp.new(self.me, text)
        else:
            try:
                stamp = Stamp.new(self.me, text)
                self.store.write_text(text, stamp)
            except OSError as exc:
                return Outcome({
                    self.me: NodeOutcome("failed", f"cannot write {self.store.config_file}: {exc}"),
                    self.peer_id: NodeOutcome("not_tried", f"not sent, because {self.me} failed"),
                })  # fmt: skip
            done, failed = restarts.restart(self.node_socket, set(services))
            mine = _with_restarts(NodeOutcome("applied", restarted=done), failed)
        theirs = await self._send_config(text, stamp, summary)
        return Outcome({self.me: mine, self.peer_id: theirs})

    async def _send_config(self, text: str, stamp: Stamp, summary: str) -> NodeOutcome:
        body = {"toml": text, "stamp": asdict(stamp)}
        try:
            reply = await self.peer.call("POST", "/peer/config", body)
        except PeerUnreachable as exc:
            self.journal.add(Entry("config", self.peer_id, summary, body))
            return NodeOutcome("pending", str(exc))
        except PeerRefused as exc:
            return NodeOutcome("failed", str(exc))
        return _outcome_from(reply)

    def receive_config(self, text: str, stamp: Stamp) -> dict[str, Any]:
        """The peer sent its configuration: check it, refuse an older one, apply it."""
        new = parse_config(text, f"configuration from {self.peer_id}")
        if stamp.digest != digest(text):
            raise TandemError("the configuration does not match its stamp")
        if self.store.text() == text:
            self.store.write_text(text, stamp)  # same file; adopt the stamp so both agree
            return {"state": "unchanged"}
        mine = self.store.stamp()
        if mine is not None and mine.at > stamp.at:
            raise Stale(self.store.text(), mine)
        old = self.store.load()
        self.store.write_text(text, stamp)
        done, failed = restarts.restart(self.node_socket, restarts.affected(old, new))
        return {"state": "applied", "restarted": done, "restart_failed": failed}

    def adopt(self, text: str, stamp: Stamp) -> list[str]:
        """Take the peer's newer configuration (sync.py); returns the services restarted."""
        new = parse_config(text, f"configuration from {self.peer_id}")
        old = self.store.load()
        self.store.write_text(text, stamp)
        done, _ = restarts.restart(self.node_socket, restarts.affected(old, new))
        return done

    # --- passwords ---------------------------------------------------------------------

    async def set_login_password(self, user: str, password: str) -> Outcome:
        """A web login (admin, panel) on both nodes: its bcrypt line, here and there."""
        return await self._change_login(user, passwords.login_entry(user, password))

    async def disable_login(self, user: str) -> Outcome:
        """Remove the login's line on both nodes, so it is refused there."""
        return await self._change_login(user, None)

    async def _change_login(self, user: str, entry: str | None) -> Outcome:
        try:
            changed = passwords.apply_login(self.htpasswd, user, entry)
            mine = NodeOutcome("applied" if changed else "unchanged")
        except (OSError, TandemError) as exc:
            return Outcome({
                self.me: NodeOutcome("failed", str(exc)),
                self.peer_id: NodeOutcome("not_tried", f"not sent, because {self.me} failed"),
            })  # fmt: skip
        summary = f"{user} password" if entry is not None else f"{user} login disabled"
        theirs = await self._send(f"{user}_password", {"entry": entry}, summary)
        return Outcome({self.me: mine, self.peer_id: theirs})

    async def set_root_password(self, node: NodeId, password: str) -> Outcome:
        hashed = passwords.root_hash(password)
        if node == self.me:
            try:
                passwords.apply_root(self.system_root, hashed)
            except TandemError as exc:
                return Outcome({self.me: NodeOutcome("failed", str(exc))})
            return Outcome({self.me: NodeOutcome("applied")})
        outcome = await self._send("root_password", {"hash": hashed}, f"root password of {node}")
        return Outcome({self.peer_id: outcome})

    async def _send(self, kind: str, body: dict[str, Any], summary: str) -> NodeOutcome:
        try:
            reply = await self.peer.call("POST", f"/peer/{kind.replace('_', '/')}", body)
        except PeerUnreachable as exc:
            self.journal.add(Entry(kind, self.peer_id, summary, body))
            return NodeOutcome("pending", str(exc))
        except PeerRefused as exc:
            return NodeOutcome("failed", str(exc))
        return _outcome_from(reply)

    def receive(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        if kind in ("admin_password", "panel_password"):
            entry = payload.get("entry")
            if kind == "admin_password" and entry is None:
                raise TandemError("the admin login cannot be disabled")
            user = kind.partition("_")[0]
            line = None if entry is None else str(entry)
            changed = passwords.apply_login(self.htpasswd, user, line)
            return {"state": "applied" if changed else "unchanged"}
        if kind == "root_password":
            passwords.apply_root(self.system_root, str(payload["hash"]))
            return {"state": "applied"}
        raise TandemError(f"unknown change {kind!r}")


class Stale(TandemError):
    """This node's configuration is newer than the one the peer sent."""

    def __init__(self, text: str, stamp: Stamp) -> None:
        self.text = text
        self.stamp = stamp
        super().__init__(f"{stamp.origin} changed the configuration later (at {stamp.at:.0f})")


def _with_restarts(outcome: NodeOutcome, failed: dict[str, str]) -> NodeOutcome:
    if failed:
        outcome.detail = "; ".join(f"{name} not restarted: {why}" for name, why in failed.items())
    return outcome


def _outcome_from(reply: dict[str, Any]) -> NodeOutcome:
    state = reply.get("state")
    if state not in ("applied", "unchanged"):
        return NodeOutcome("failed", f"unexpected answer {reply!r}")
    outcome = NodeOutcome(state, restarted=list(reply.get("restarted", [])))
    return _with_restarts(outcome, dict(reply.get("restart_failed", {})))
