"""The membership core: heartbeats, path and peer liveness, ping nodes, the witness
lease, claims and yields, and the self-fence watchdog. No I/O, no clock of its own:
`handle(event, now)` returns the actions to carry out (DESIGN: cores without I/O).

Heartbeat's words (HB-2, HB-3): a beat goes out on every enabled path every `keepalive`;
a path is down when nothing arrived on it for `deadtime`; the peer is dead only when
nothing arrived on any path for `deadtime`; a beat later than `warntime` is warned about;
a booting node waits `initdead` before it declares an unheard peer dead.

Every beat carries the sender's view: which of our beats it has seen (ack), whether it
claims or holds the service group, whether it yields to our claim, which ping nodes it
reaches. quorum.py turns that view into the grant.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

from tandem.errors import UsageError
from tandem.membership import quorum
from tandem.membership.events import (
    Action,
    BeatReceived,
    Event,
    HardReset,
    Notice,
    PeerFenced,
    PingResult,
    Released,
    SelfFence,
    SendBeat,
    SendWitness,
    Tick,
    Want,
    WitnessReplied,
)
from tandem.membership.wire import Dropped, PathName

PeerState = Literal["unknown", "alive", "dead"]
PathState = Literal["up", "down", "disabled"]
ALL_PATHS: tuple[PathName, ...] = ("serial", "crossover", "external")
PROBE_INTERVAL = 1.0  # seconds between witness probes while its vote is not needed


@dataclass(frozen=True)
class CoreConfig:
    node: int  # 1 or 2
    paths: tuple[PathName, ...]  # enabled heartbeat paths
    keepalive: float
    warntime: float
    deadtime: float
    initdead: float
    witness: bool = False
    stop_budget: float | None = None  # time the services get to stop; deadtime/2 default
    margin: float = 0.05  # slack on every expiry, for tick granularity and clock rates
    ping_nodes: tuple[str, ...] = ()
    config_digest: str = ""
    # Yield to the peer only after this node's failover logic has spoken in this life
    # (a claim or its word to the peer): a membership restarted beside a running group
    # does not know that the group runs here, and must not promise it away.
    await_crm: bool = False

    @property
    def peer(self) -> int:
        return 3 - self.node

    @property
    def stop_time(self) -> float:
        return self.stop_budget if self.stop_budget is not None else self.deadtime / 2

    @property
    def promise(self) -> float:
        """How long a yield or a witness lease binds: deadtime plus the stop budget, so
        that the node running the group gives it up only after a silence as long as the
        deadtime (no self-fence on a shorter hiccup), and still has the stop budget left."""
        return self.deadtime + self.stop_time

    def name(self, node: int | None = None) -> str:
        return f"node{self.node if node is None else node}"


@dataclass
class PeerView:
    generation: int = 0
    last_rx: float = -math.inf  # any path
    path_rx: dict[str, float] = field(default_factory=dict)
    path_seq: dict[str, int] = field(default_factory=dict)
    latest_seq: int = 0
    latest_rx: float = -math.inf
    body: dict[str, Any] = field(default_factory=dict)
    seen_since_boot: bool = False


class MembershipCore:
    def __init__(
        self, config: CoreConfig, generation: int, now: float, known_peer_generation: int = 0
    ) -> None:
        if config.node not in (1, 2):
            raise UsageError(f"node must be 1 or 2, not {config.node}")
        if generation < 1:
            raise UsageError("a generation starts at 1 and grows with every start")
        self.cfg = config
        self.generation = generation
        self.started = now
        self.seq = 0
        self.sent: OrderedDict[int, float] = OrderedDict()  # our beat seq -> send time
        self.next_beat = now
        self.peer = PeerView(generation=known_peer_generation)
        self.peer_state: PeerState = "unknown"
        self.peer_state_changed = now
        self.path_state: dict[str, PathState] = {
            p: ("down" if p in config.paths else "disabled") for p in ALL_PATHS
        }
        self.late_warned = False
        self.ping: dict[str, bool] = {t: False for t in config.ping_nodes}
        self.want = False
        self.claim_seq = 0
        self.decision = quorum.Decision(False, "", 0.0, False, ("self",), "starting")
        self.holding = False
        self.services_up = False
        self.fence_deadline: float | None = None
        self.reset_sent = False
        self.peer_fenced = False
        self.prev_yield_until = 0.0
        # No witness-based grant before initdead: a node that crashed and came back within
        # deadtime must not break a promise (a yield) its previous life made.
        self.yield_bound = now + max(config.initdead, config.promise)
        self.lease_until = 0.0
        self.witness_sent: OrderedDict[int, float] = OrderedDict()
        self.witness_seq = 0
        # The last release we sent: a grant answering an earlier request must not bring
        # the lease back (found by the simulator, seed 31305).
        self.release_seq = 0
        self.next_witness = now
        self.witness_seen: tuple[int, int] = (0, 0)  # witness generation, seq
        self.witness_last_reply = -math.inf
        self.witness_holder = 0
        self.lease_needed = False
        self.dropped: dict[str, int] = {}
        # The volume engine's word to its peer (an outdate request, or its answer), carried
        # on every heartbeat path: the replication link may be the one that broke.
        self.volume_info: dict[str, Any] = {}
        # The failover logic's word to its peer (whether it runs the group, may run it,
        # hands it over), and to the witness (record the peer's replica Outdated, or not).
        self.crm_info: dict[str, Any] = {}
        self.crm_heard = False  # the failover logic has spoken to this life (await_crm)
        self.outdate_peer: bool | None = None
        self.witness_self_outdated = False
        self.witness_peer_outdated = False

    # --- entry point ---------------------------------------------------------------

    def handle(self, event: Event, now: float) -> list[Action]:
        out: list[Action] = []
        if isinstance(event, BeatReceived):
            try:
                self._receive(event, now, out)
            except Dropped as exc:
                self.count(exc.reason)
                return out
        elif isinstance(event, WitnessReplied):
            try:
                self._witness_reply(event, now)
            except Dropped as exc:
                self.count(exc.reason)
        elif isinstance(event, PingResult):
            self._ping(event, out)
        elif isinstance(event, Want):
            self._want(event.want, out)
        elif isinstance(event, Released):
            # Stopped everything, and so no longer claims: otherwise the next evaluation
            # would grant the group again and count the services as up.
            self.services_up = False
            self.fence_deadline = None
            if self.want:
                self._want(False, out)
        elif isinstance(event, PeerFenced):
            self.peer_fenced = True
            out.append(Notice("peer-fenced", f"{self.cfg.name(self.cfg.peer)} was fenced"))
        elif not isinstance(event, Tick):
            raise UsageError(f"can't handle {type(event).__name__}")
        self._tick(now, out)
        return out

    def count(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    # --- receiving -----------------------------------------------------------------

    def _receive(self, ev: BeatReceived, now: float, out: list[Action]) -> None:
        if ev.path not in self.cfg.paths:
            raise Dropped("disabled-path", ev.path)
        peer = self.peer
        if ev.generation < peer.generation:
            raise Dropped("replay", "an older life of the peer")
        if ev.generation > peer.generation:
            if peer.generation:
                out.append(
                    Notice(
                        "peer-restarted",
                        f"{self.cfg.name(self.cfg.peer)} restarted "
                        f"(generation {peer.generation} -> {ev.generation})",
                    )
                )
            # The old life's yield stays a valid promise until it runs out: the new life
            # waits initdead before it may take the group by the witness.
            self.prev_yield_until = self._peer_yield_until() or 0.0
            self.peer = peer = PeerView(generation=ev.generation, seen_since_boot=True)
            self.peer_fenced = False
        if ev.seq <= peer.path_seq.get(ev.path, 0):
            raise Dropped("replay", f"seq {ev.seq} on {ev.path} seen already")
        body = _valid_body(ev.body)
        peer.path_seq[ev.path] = ev.seq
        peer.path_rx[ev.path] = now
        peer.last_rx = now
        peer.seen_since_boot = True
        # Only the newest beat speaks for the peer's state; an older one that took a slower
        # path (serial) still proves it is alive, but must not undo a newer decision.
        if ev.seq > peer.latest_seq:
            peer.latest_seq = ev.seq
            peer.latest_rx = now
            peer.body = body

    # --- the witness ---------------------------------------------------------------

    def _witness_reply(self, ev: WitnessReplied, now: float) -> None:
        if not self.cfg.witness:
            raise Dropped("unexpected-witness")
        if (ev.generation, ev.seq) <= self.witness_seen:
            raise Dropped("replay", "witness reply seen already")
        body = ev.body
        if body.get("echo_gen") != self.generation:
            raise Dropped("replay", "witness reply to an older life of this node")
        req = body.get("echo_req")
        sent = self.witness_sent.get(req) if isinstance(req, int) else None
        if sent is None:
            raise Dropped("replay", "witness reply to an unknown request")
        self.witness_seen = (ev.generation, ev.seq)
        self.witness_last_reply = now
        holder = body.get("holder")
        self.witness_holder = holder if isinstance(holder, int) else 0
        lease = body.get("lease")
        if (
            body.get("granted") is True
            and isinstance(lease, (int, float))
            and isinstance(req, int)
            and req > self.release_seq
        ):
            # The witness counts from when it received the request, which is after we
            # sent it: our expiry comes first, whatever the delay. A grant to a request
            # sent before our last release is void: the witness let the lease go when the
            # release arrived and may have given it to the peer since.
            until = sent + min(float(lease), self.cfg.promise) - self.cfg.margin
            self.lease_until = max(self.lease_until, until)
        self.witness_self_outdated = body.get("self_outdated") is True
        self.witness_peer_outdated = body.get("peer_outdated") is True

    def _witness_due(self, now: float, out: list[Action]) -> None:
        vote = self._peer_vote_until()
        needed = self.want or self.services_up or vote is None or now >= vote
        if self.lease_needed and not needed and self.lease_until > now:
            # Hand the witness's vote back, so that it belongs to whoever runs the group.
            self.lease_until = 0.0
            self._send_witness(now, out, release=True)
            self.release_seq = self.witness_seq
        self.lease_needed = needed
        if needed and now >= self.next_witness:
            self._send_witness(now, out, release=False)
        elif not needed and now >= self.next_witness + PROBE_INTERVAL:
            # Nobody needs the vote now, but a witness that is gone should be noticed
            # before it is needed.
            self._send_witness(now, out, release=False, probe=True)

    def _send_witness(
        self, now: float, out: list[Action], release: bool, probe: bool = False
    ) -> None:
        self.witness_seq += 1
        self.witness_sent[self.witness_seq] = now
        while len(self.witness_sent) > 64:
            self.witness_sent.popitem(last=False)
        self.next_witness = now + self.cfg.keepalive
        body = {
            "gen": self.generation,
            "want": self.want or self.services_up,
            "release": release,
            "probe": probe,
        }
        if self.outdate_peer is not None and not release and not probe:
            body["outdate_peer"] = self.outdate_peer
        out.append(SendWitness(self.witness_seq, body))

    # --- ping nodes and the failover logic's requests ----------------------------------

    def _ping(self, ev: PingResult, out: list[Action]) -> None:
        if ev.target not in self.ping:
            return
        if self.ping[ev.target] != ev.ok:
            self.ping[ev.target] = ev.ok
            state = "reachable again" if ev.ok else "unreachable"
            out.append(
                Notice(
                    "ping",
                    f"ping node {ev.target} {state} from {self.cfg.name()}",
                    {"target": ev.target, "ok": ev.ok},
                )
            )
            self.next_beat = 0.0  # tell the peer at once (HB-4)

    def _want(self, want: bool, out: list[Action]) -> None:
        self.crm_heard = True
        if want and self.fence_deadline is not None:
            raise UsageError("can't claim the group while a self-fence is under way")
        if want == self.want:
            return
        self.want = want
        self.claim_seq = self.seq + 1 if want else 0
        verb = "claims" if want else "no longer claims"
        out.append(Notice("claim", f"{self.cfg.name()} {verb} the service group"))
        self.next_beat = 0.0

    # --- the clock -----------------------------------------------------------------

    def _tick(self, now: float, out: list[Action]) -> None:
        self._liveness(now, out)
        if self.cfg.witness:
            self._witness_due(now, out)
        self._evaluate(now, out)
        if now >= self.next_beat:
            self._send_beat(now, out)

    def _liveness(self, now: float, out: list[Action]) -> None:
        cfg, peer = self.cfg, self.peer
        peer_name = cfg.name(cfg.peer)
        for path in cfg.paths:
            up = now - peer.path_rx.get(path, -math.inf) < cfg.deadtime
            state: PathState = "up" if up else "down"
            if state != self.path_state[path]:
                self.path_state[path] = state
                if up:
                    sentence = f"path {path} to {peer_name} up"
                else:
                    sentence = f"path {path} to {peer_name} down: nothing for {cfg.deadtime:g} s"
                out.append(Notice("path", sentence, {"path": path, "state": state}))
        silent = now - peer.last_rx
        if silent < cfg.deadtime:
            new: PeerState = "alive"
        elif self.peer_state == "unknown" and now - self.started < cfg.initdead:
            new = "unknown"
        else:
            new = "dead"
        if silent > cfg.warntime and new == "alive" and not self.late_warned:
            self.late_warned = True
            out.append(
                Notice("late", f"late heartbeat from {peer_name}: nothing for {silent:.1f} s")
            )
        elif silent <= cfg.warntime:
            self.late_warned = False
        if new != self.peer_state:
            self.peer_state = new
            self.peer_state_changed = now
            if new == "alive":
                sentence = f"peer {peer_name} alive"
            else:
                waited = cfg.initdead if math.isinf(silent) else cfg.deadtime
                paths = _join(cfg.paths) or "any path"
                sentence = f"peer {peer_name} dead: nothing on {paths} for {waited:g} s"
            out.append(Notice("peer", sentence, {"state": new}))

    def _peer_vote_until(self) -> float | None:
        """Our beats the peer acknowledges keep its vote until send time + the promise."""
        body = self.peer.body
        if body.get("ack_gen") != self.generation:
            return None
        sent = self.sent.get(body.get("ack", 0))
        return None if sent is None else sent + self.cfg.promise - self.cfg.margin

    def _peer_yield_until(self) -> float | None:
        body = self.peer.body
        if not (self.want and body.get("yield") and body.get("yield_to") == self.claim_seq):
            return self.prev_yield_until if self.want and self.prev_yield_until else None
        return self._peer_vote_until()

    def _evaluate(self, now: float, out: list[Action]) -> None:
        cfg = self.cfg
        inputs = quorum.QuorumInputs(
            now=now,
            want=self.want,
            witness_configured=cfg.witness,
            peer_yield_until=self._peer_yield_until(),
            peer_vote_until=self._peer_vote_until(),
            lease_until=self.lease_until,
            yield_bound=self.yield_bound,
            holding=self.holding,
            peer_fenced=self.peer_fenced,
            ping_ok=self.ping_ok(),
        )
        before = self.decision
        d = self.decision = quorum.decide(inputs)
        self.holding = d.granted
        if d.quorate != before.quorate:
            state = "holds quorum" if d.quorate else "lost quorum"
            out.append(
                Notice(
                    "quorum",
                    f"{cfg.name()} {state}: votes {', '.join(d.votes)}",
                    {"quorate": d.quorate, "votes": list(d.votes)},
                )
            )
        if d.granted != before.granted:
            if d.granted:
                sentence = f"{cfg.name()} may run the service group: {d.reason}"
            else:
                sentence = f"{cfg.name()} may no longer run the service group: {d.reason}"
            out.append(Notice("grant", sentence, {"granted": d.granted, "basis": d.basis}))
            self.next_beat = 0.0
        if d.granted:
            self.services_up = True
        self._watchdog(now, before, out)

    def _watchdog(self, now: float, before: quorum.Decision, out: list[Action]) -> None:
        """Services must be gone before the grant ends: ask first, then reset the node."""
        d = self.decision
        if self.services_up and self.fence_deadline is None:
            ending = not d.granted or d.until - now < self.cfg.stop_time
            if ending:
                # Never later than the grant's end, and never more than the stop budget:
                # a grant without an end of its own ("holding") still ends promptly.
                deadline = min(d.until if d.granted else before.until, now + self.cfg.stop_time)
                self.fence_deadline = deadline
                remaining = max(0.0, deadline - now)
                reason = (
                    f"{self.cfg.name()} gives up the service group: {d.reason}; the "
                    f"services must stop within {remaining:.1f} s"
                )
                self.want = False
                self.claim_seq = 0
                out.append(SelfFence(deadline, reason))
                out.append(Notice("self-fence", reason, {"deadline_in": remaining}))
        if (
            self.fence_deadline is not None
            and self.services_up
            and not self.reset_sent
            and now >= self.fence_deadline - self.cfg.margin
        ):
            self.reset_sent = True
            reason = (
                f"{self.cfg.name()} resets itself: the services were not released before "
                "the grant ran out"
            )
            out.append(Notice("reset", reason))
            out.append(HardReset(reason))

    # --- sending -------------------------------------------------------------------

    def _yields(self) -> bool:
        body = self.peer.body
        # Not while our services may still run: the peer would start them beside ours.
        if self.decision.granted or self.services_up:
            return False
        if self.cfg.await_crm and not self.crm_heard:
            return False
        if self.peer_state != "alive" or not body.get("claim"):
            return False
        # A granted peer keeps priority; between two claims, node1 wins the tie.
        return bool(body.get("granted")) or not self.want or self.cfg.peer < self.cfg.node

    def _send_beat(self, now: float, out: list[Action]) -> None:
        self.seq += 1
        self.sent[self.seq] = now
        horizon = now - 2 * self.cfg.promise
        while self.sent and next(iter(self.sent.values())) < horizon:
            self.sent.popitem(last=False)
        self.next_beat = now + self.cfg.keepalive
        yields = self._yields()
        if yields:
            # We promise not to take the group by the witness until the peer's grant
            # that rests on this yield has run out (quorum.py, basis "peer").
            bound = self.peer.latest_rx + self.cfg.promise + self.cfg.margin
            self.yield_bound = max(self.yield_bound, bound)
        if self.want and self.claim_seq == 0:
            self.claim_seq = self.seq
        body: dict[str, Any] = {
            "ack": self.peer.latest_seq,
            "ack_gen": self.peer.generation,
            "claim": self.want,
            "claim_seq": self.claim_seq,
            "granted": self.decision.granted,
            "yield": yields,
            "yield_to": self.peer.body.get("claim_seq", 0) if yields else 0,
            "hears": self.peer_state == "alive",
            "ping": dict(self.ping),
            "cfg": self.cfg.config_digest,
            "vol": dict(self.volume_info),
            "crm": dict(self.crm_info),
        }
        out.append(SendBeat(self.cfg.paths, self.seq, body))

    # --- for the daemon and status -------------------------------------------------

    def set_volume_info(self, info: dict[str, Any]) -> None:
        """What the volume engine wants its peer to read; sent with the next beat."""
        if info != self.volume_info:
            self.volume_info = dict(info)
            self.next_beat = 0.0

    def set_crm_info(self, info: dict[str, Any], outdate_peer: bool | None) -> None:
        """What the failover logic tells its peer (next beat) and the witness (next request)."""
        self.crm_heard = True
        if info != self.crm_info:
            self.crm_info = dict(info)
            self.next_beat = 0.0
        if outdate_peer != self.outdate_peer:
            self.outdate_peer = outdate_peer
            self.next_witness = 0.0

    def peer_crm(self) -> dict[str, Any]:
        crm = self.peer.body.get("crm", {})
        return dict(crm) if isinstance(crm, dict) else {}

    def peer_volume(self) -> dict[str, Any]:
        vol = self.peer.body.get("vol", {})
        return dict(vol) if isinstance(vol, dict) else {}

    def ping_ok(self) -> bool:
        return not self.ping or any(self.ping.values())

    def peer_ping(self) -> dict[str, bool]:
        ping = self.peer.body.get("ping", {})
        return {str(k): bool(v) for k, v in ping.items()} if isinstance(ping, dict) else {}

    def may_fence_peer(self) -> bool:
        """Without a witness, the passive node may fence a silent peer to take over, but
        only after it has seen the peer in this life (wait-for-all): two nodes that boot
        into a partition must not fence each other in turn."""
        return (
            not self.cfg.witness
            and self.peer_state == "dead"
            and self.peer.seen_since_boot
            and self.ping_ok()
        )

    def witness_state(self, now: float) -> str:
        if not self.cfg.witness:
            return "none"
        recent = self.cfg.deadtime + PROBE_INTERVAL + self.cfg.keepalive
        return "reachable" if now - self.witness_last_reply < recent else "unreachable"


def _valid_body(body: dict[str, Any]) -> dict[str, Any]:
    ints = ("ack", "ack_gen", "claim_seq", "yield_to")
    bools = ("claim", "granted", "yield", "hears")
    for key in ints:
        value = body.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise Dropped("malformed", f"{key} is not a count")
    for key in bools:
        if not isinstance(body.get(key), bool):
            raise Dropped("malformed", f"{key} is not true/false")
    if not isinstance(body.get("ping"), dict):
        raise Dropped("malformed", "ping is not a table")
    if not isinstance(body.get("vol", {}), dict):
        raise Dropped("malformed", "vol is not a table")
    return body


def _join(items: tuple[str, ...]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]
