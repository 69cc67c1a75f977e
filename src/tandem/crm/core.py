"""The failover policy without I/O: one step of the HA loop (read state, decide, act).

Like Patroni's HA loop, every step starts from a fresh observation of membership, the
volume and the service group, and returns what to do. The core keeps only what an
observation cannot show: what it has asked membership for, why it is stopping, a switchover
it hands over, a block after repeated failures. Safety does not rest here: membership
grants the group to at most one node (DESIGN invariant 1), and the volume refuses to
promote stale data (invariant 3); this core decides *when* to ask, and says why.

Rules, in the order they are applied:
- a node whose replica the witness records Outdated marks it so and never runs the group;
- an operator's switchover is checked (the peer alive, UpToDate, able to run it) and
  refused with the reason, unless forced;
- the active node gives the group up when membership withdraws the grant (self-fence),
  when a member failed beyond its restarts, when it reaches no ping node while the peer
  reaches one (HB-4), or for a switchover; after the stop it reports released;
- a node claims the group when it may run it and the peer does not run it: at a cold
  start node1 first, after a failure whichever node is left; never back (CM-4);
- granted and claiming: start the group;
- without a witness, a passive node that claims and is not granted because the peer is
  dead fences the peer; with I/O frozen on the active node and the peer dead, the peer's
  replica is recorded Outdated at the witness (or the peer fenced) before writing on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

BLOCK_SECONDS = 300.0  # a node whose group failed does not take it back for this long
HANDOFF_SECONDS = 30.0  # how long a switchover waits for the peer to take the group
FENCE_RETRY = 10.0
# Without a witness both nodes may try to fence each other when every path between them
# is cut. The node that runs the group fences at once; a passive node waits this long
# first, so the running node wins the race and the service stays where it is (like
# Pacemaker's priority-fencing-delay). node2 waits longer still, for the case that
# neither runs the group.
PASSIVE_FENCE_DELAY = {"node1": 5.0, "node2": 8.0}


@dataclass(frozen=True)
class Switchover:
    token: int
    force: bool = False
    asked_by: str = "operator"  # "operator" here, or the peer's node name


@dataclass(frozen=True)
class Observation:
    now: float
    me: str
    peer: str
    # membership
    membership_up: bool = True
    # What membership has recorded as this node's claim (None: not known). A membership
    # that restarted has forgotten the claim; the core then makes it again.
    claimed: bool | None = None
    peer_state: str = "unknown"  # alive, dead, unknown
    peer_dead_for: float = 0.0
    granted: bool = False
    basis: str = ""
    self_fence: str | None = None
    may_fence_peer: bool = False
    peer_fenced: bool = False
    witness: bool = False
    witness_reachable: bool = False
    witness_self_outdated: bool = False
    witness_peer_outdated: bool = False
    ping_me: bool = True  # reaches a ping node, or none is configured
    ping_peer: bool | None = None
    peer_crm: Mapping[str, Any] = field(default_factory=dict)
    # volume
    vol_up: bool = False
    role: str = "Secondary"
    disk: str = "Diskless"
    conn: str = "StandAlone"
    peer_disk: str | None = None
    frozen: bool = False
    # Consistent because the link to the peer broke while this node was UpToDate, in this
    # life of the volume engine (not after a restart).
    current_when_lost: bool = False
    sync_done: float | None = None  # percent, while a resync runs
    # the service group, as its runner reports it
    group: str = "stopped"  # stopped, starting, running, stopping
    group_failed: str | None = None
    fencer: bool = False
    request: Switchover | None = None


# --- actions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SetClaim:
    want: bool


@dataclass(frozen=True)
class StartGroup:
    reason: str
    kind: str  # failover, switchover, start
    confirmed: bool  # promote Consistent data: the witness says nobody wrote without us


@dataclass(frozen=True)
class StopGroup:
    reason: str
    kind: str  # failover, switchover, self-fence, failure


@dataclass(frozen=True)
class ReportReleased:
    pass


@dataclass(frozen=True)
class FencePeer:
    reason: str


@dataclass(frozen=True)
class ConfirmPeerOutdated:
    reason: str


@dataclass(frozen=True)
class OutdateSelf:
    reason: str


@dataclass(frozen=True)
class Publish:
    """What the peer's HA loop reads (on every heartbeat) and the witness records."""

    info: dict[str, Any]
    outdate_peer: bool | None


@dataclass(frozen=True)
class Decision:
    """One sentence with its reason, logged and kept in the event log."""

    kind: str
    sentence: str
    severity: str = "info"


@dataclass(frozen=True)
class Answer:
    """The answer to a switchover request (token), refused or accepted."""

    token: int
    accepted: bool
    reason: str


Action = (
    SetClaim
    | StartGroup
    | StopGroup
    | ReportReleased
    | FencePeer
    | ConfirmPeerOutdated
    | OutdateSelf
    | Publish
    | Decision
    | Answer
)


@dataclass
class HaCore:
    me: str
    claim: bool = False
    stopping_for: str = ""  # why the group is being given up: release, handoff, block
    stop_kind: str = ""
    handoff_until: float = 0.0
    blocked_until: float = 0.0
    blocked_reason: str = ""
    fenced_at: float = -1e18
    outdate_peer: bool | None = None
    confirm_asked: bool = False
    outdate_self_asked: bool = False
    ask_token: int = 0  # a switchover this (passive) node asked the peer for
    ask_force: bool = False
    answered_peer_ask: int = 0
    answers: dict[int, str] = field(default_factory=dict)  # peer's asks refused: token -> why
    last_wait: str = ""

    # --- the step --------------------------------------------------------------------

    def step(self, o: Observation) -> list[Action]:
        out: list[Action] = []
        active = o.group in ("starting", "running")
        if o.membership_up and o.claimed is False and self.claim:
            # Membership forgot the claim (it restarted) or dropped it (self-fence): the
            # claim is what membership holds; `_want` below makes it again if it should.
            # (A claim made by hand, `tandem membership claim`, is left to the operator.)
            self.claim = False
        # The grant in `o` answers the claim as it stood when `o` was read. A step that
        # releases the group or changes the claim must not start on that grant: it may be
        # the one just given back (found by the simulator, seed 192 of tandem.crm.sim).
        claimed = self.claim
        self._outdated_by_witness(o, out)
        self._requests(o, active, out)
        if active:
            self._give_up_when_needed(o, out)
            self._fence_lost_peer(o, out)
            self._frozen_io(o, out)
        if o.group == "stopped" and self.stopping_for:
            self._stopped(o, out)
        elif o.group == "stopped" and o.self_fence:
            # Granted for a moment but never started (or stopped already): nothing runs
            # here, so say so at once, or membership's watchdog resets an idle node.
            out.append(ReportReleased())
            self.claim = False
        want = self._want(o) if not o.self_fence else False
        if want != self.claim:
            self.claim = want
            out.append(SetClaim(want))
        if not active and o.group == "stopped" and not self.stopping_for:
            if claimed and self.claim and not any(isinstance(a, ReportReleased) for a in out):
                self._maybe_start(o, out)
            self._maybe_fence(o, out)
        self._peer_current(o)
        out.append(Publish(self.info(o), self.outdate_peer))
        return out

    # --- eligibility -----------------------------------------------------------------

    def eligible(self, o: Observation) -> tuple[bool, str]:  # noqa: PLR0911 - one per rule
        """May this node run the group, judged by its own state alone? (and why not)"""
        if o.now < self.blocked_until:
            return False, f"the group failed here ({self.blocked_reason}); `tandem crm clear`"
        if not o.vol_up:
            return False, "the volume engine is not running"
        if o.witness_self_outdated:
            return False, "the witness records this node's data as Outdated"
        if o.conn == "SyncTarget":
            done = f" ({o.sync_done:.0f}% done)" if o.sync_done is not None else ""
            return False, f"this node's data is being resynced{done}"
        if (
            o.disk == "Consistent"
            and not (o.witness and o.witness_reachable)
            and not self._current_unless_peer_wrote(o)
        ):
            return False, (
                "this node's data is Consistent but may be stale (it booted without its "
                "peer); without the witness only an operator can promote it"
            )
        if o.disk not in ("UpToDate", "Consistent"):
            return False, f"this node's data is {o.disk}"
        if not o.ping_me and o.ping_peer is True:
            return False, f"this node reaches no ping node while {o.peer} reaches one"
        return True, ""

    @staticmethod
    def _current_unless_peer_wrote(o: Observation) -> bool:
        """Without a witness: data that was UpToDate when the link to the peer broke is
        still current if the peer is dead for good (fenced, or about to be fenced by this
        node). Under protocol C the peer acknowledged no write without this node unless
        it outdated this node first (then the disk would say Outdated) or fenced it (then
        this node would not be running)."""
        return (
            o.current_when_lost
            and not o.witness
            and o.fencer
            and (o.peer_fenced or o.peer_state == "dead")
        )

    def peer_eligible(self, o: Observation) -> tuple[bool, str]:
        if o.peer_state != "alive":
            return False, f"{o.peer} is {o.peer_state}"
        if not o.peer_crm:
            return False, f"{o.peer}'s failover logic does not answer"
        if not o.peer_crm.get("eligible"):
            return False, str(o.peer_crm.get("why_not") or f"{o.peer} may not run the group")
        return True, ""

    # --- rules -----------------------------------------------------------------------

    def _outdated_by_witness(self, o: Observation, out: list[Action]) -> None:
        if not o.witness_self_outdated:
            self.outdate_self_asked = False
            return
        standalone = o.conn not in ("Connected", "SyncSource", "SyncTarget")
        if (
            not self.outdate_self_asked
            and o.vol_up
            and o.role == "Secondary"
            and standalone
            and o.disk in ("UpToDate", "Consistent")
        ):
            self.outdate_self_asked = True
            reason = f"the witness records it Outdated: {o.peer} wrote without this node"
            out.append(OutdateSelf(reason))
            out.append(Decision("volume", f"marking this node's data Outdated: {reason}"))

    def _requests(self, o: Observation, active: bool, out: list[Action]) -> None:
        if self.ask_token and o.peer_crm.get("answer_to") == self.ask_token:
            # The peer refused our switchover request: it is over. Kept, it would stop
            # this node from ever taking the group over from a failed peer (seed 402).
            self.ask_token = 0
        ask = o.peer_crm.get("ask")
        if active and isinstance(ask, int) and ask and ask != self.answered_peer_ask:
            # The passive node asks for the group (an operator typed the switchover there).
            self.answered_peer_ask = ask
            self._switchover(o, Switchover(ask, bool(o.peer_crm.get("force")), o.peer), out)
        if o.request is None:
            return
        req = o.request
        if active:
            self._switchover(o, req, out)
        elif o.peer_state == "alive" and o.peer_crm.get("active"):
            # Ask the active peer; it checks and answers on its heartbeats.
            self.ask_token = req.token
            self.ask_force = req.force
            out.append(Answer(req.token, True, f"asked {o.peer} to hand the group over"))
        else:
            out.append(Answer(req.token, False, "no node runs the service group: nothing to move"))

    def _switchover(self, o: Observation, req: Switchover, out: list[Action]) -> None:
        if self.stopping_for:
            why = "the group is being stopped already"
            self._refuse(req, why, out)
            return
        ok, why = self.peer_eligible(o)
        if ok and o.peer_disk != "UpToDate":
            ok, why = False, f"{o.peer}'s data is {o.peer_disk or 'unknown'}"
            if o.sync_done is not None and o.conn == "SyncSource":
                why += f" (resync {o.sync_done:.0f}% done)"
        if not ok and not req.force:
            self._refuse(req, f"{why}; wait until it is healthy, or force it", out)
            return
        forced = " (forced)" if not ok else ""
        reason = f"switchover to {o.peer}{forced}, asked by {req.asked_by}"
        self._stop(reason, "handoff", "switchover", out)
        out.append(Answer(req.token, True, reason))

    def _refuse(self, req: Switchover, why: str, out: list[Action]) -> None:
        sentence = f"switchover to {self.peer_of()} refused: {why}"
        if req.asked_by != "operator":
            self.answers[req.token] = sentence
        out.append(Answer(req.token, False, sentence))
        out.append(Decision("switchover", sentence, "warning"))

    def peer_of(self) -> str:
        return "node2" if self.me == "node1" else "node1"

    def _give_up_when_needed(self, o: Observation, out: list[Action]) -> None:
        if self.stopping_for:
            return
        if o.self_fence:
            self._stop(f"giving the group up: {o.self_fence}", "release", "self-fence", out)
        elif o.group_failed:
            self._stop(
                f"giving the group up: {o.group_failed}; {o.peer} may take it over",
                "block",
                "failure",
                out,
            )
        elif not o.ping_me and o.ping_peer is True and self.peer_eligible(o)[0]:
            self._stop(
                f"giving the group up: {self.me} reaches no ping node while {o.peer} "
                "reaches one (HB-4)",
                "handoff",
                "failover",
                out,
            )
        elif not o.vol_up:
            self._stop(
                "giving the group up: the volume engine died, the data path of this node failed",
                "block",
                "failure",
                out,
            )

    def _stop(self, reason: str, why: str, kind: str, out: list[Action]) -> None:
        self.stopping_for = why
        self.stop_kind = kind
        out.append(StopGroup(reason, kind))
        out.append(Decision(kind, reason, "warning" if kind != "switchover" else "info"))

    def _stopped(self, o: Observation, out: list[Action]) -> None:
        why, self.stopping_for = self.stopping_for, ""
        out.append(ReportReleased())
        self.claim = False  # released also withdraws the claim in membership
        if why == "handoff":
            self.handoff_until = o.now + HANDOFF_SECONDS
        elif why == "block":
            self.blocked_until = o.now + BLOCK_SECONDS
            self.blocked_reason = o.group_failed or "its data path failed"

    def _frozen_io(self, o: Observation, out: list[Action]) -> None:
        """Writes wait until the absent peer is known not to promote on the data they
        change (DR-3, DRBD's fence-peer); membership's relay covers a peer that is alive."""
        if not o.frozen:
            self.confirm_asked = False
            return
        if o.peer_state != "dead" or self.stopping_for:
            return
        if o.witness:
            if not o.granted:
                return
            self.outdate_peer = True
            if o.witness_peer_outdated and not self.confirm_asked:
                self.confirm_asked = True
                out.append(ConfirmPeerOutdated(f"the witness records {o.peer}'s data Outdated"))
                out.append(
                    Decision(
                        "volume",
                        f"writing on without {o.peer}: it is dead for {o.peer_dead_for:.1f} s "
                        "and the witness records its data Outdated",
                        "warning",
                    )
                )
        elif o.peer_fenced and not self.confirm_asked:
            self.confirm_asked = True
            out.append(ConfirmPeerOutdated(f"{o.peer} was fenced"))
            out.append(Decision("volume", f"writing on without {o.peer}: it was fenced", "warning"))
        elif o.fencer and o.now - self.fenced_at > FENCE_RETRY:
            self.fenced_at = o.now
            out.append(FencePeer(f"I/O is frozen and {o.peer} is dead on every path"))

    def _peer_current(self, o: Observation) -> None:
        """The peer is connected again: whatever it missed travels by resync, and it cannot
        be promoted while it is a SyncTarget; the witness's record can go."""
        connected = o.conn in ("Connected", "SyncSource")
        if (
            self.outdate_peer
            and o.role == "Primary"
            and connected
            and o.peer_disk
            in (
                "UpToDate",
                "Inconsistent",
            )
        ):
            self.outdate_peer = False

    def _want(self, o: Observation) -> bool:
        if self.stopping_for:
            return self.claim
        if o.group in ("starting", "running", "stopping"):
            return True
        ok, why = self.eligible(o)
        if not ok:
            self.last_wait = f"not claiming the group: {why}"
            return False
        return o.peer_state != "alive" or self._want_beside_peer(o)

    def _want_beside_peer(self, o: Observation) -> bool:
        """Both alive and this node able to run the group: claim it only if the peer does
        not run it, does not hand it over elsewhere, and is not the preferred node."""
        if not o.peer_crm:
            # Alive, but its failover logic has not spoken (its membership just restarted,
            # or the logic is down): whether it runs the group is not known, so not beside it.
            self.last_wait = f"not claiming the group: {o.peer}'s failover logic does not answer"
            return False
        if o.peer_crm.get("active") or o.peer_crm.get("stopping") or o.now < self.handoff_until:
            return False
        if o.peer_crm.get("handoff"):
            return True
        # Both may run it: node1 does, as the seed's preferred node.
        return self.me == "node1" or not self.peer_eligible(o)[0] or bool(o.peer_crm.get("blocked"))

    def _maybe_start(self, o: Observation, out: list[Action]) -> None:
        if not (self.claim and o.granted and o.membership_up):
            return
        if not self.eligible(o)[0]:
            return
        if o.peer_state == "alive" and o.peer_crm.get("active"):
            return
        if o.peer_state == "dead":
            kind = "failover"
            quorum = {
                "witness": "quorum held with the witness",
                "fenced": f"{o.peer} fenced",
                "holding": "holding the group",
                "peer": f"{o.peer} yields",
            }.get(o.basis, f"granted ({o.basis})")
            reason = (
                f"taking over: {o.peer} dead for {o.peer_dead_for:.1f} s on all paths, "
                f"{quorum}, data {o.disk}"
            )
        elif o.peer_crm.get("handoff"):
            kind, reason = "switchover", f"taking over from {o.peer}: it handed the group over"
        elif o.peer_state == "alive" and o.peer_crm.get("why_not"):
            kind = "failover"
            reason = f"taking over: {o.peer} may not run the group ({o.peer_crm['why_not']})"
        else:
            kind = "start"
            reason = (
                f"starting the group: {o.peer} {o.peer_state}, granted ({o.basis}), data {o.disk}"
            )
        confirmed = o.disk == "Consistent" and (
            (o.witness and not o.witness_self_outdated) or (o.current_when_lost and o.peer_fenced)
        )
        if o.disk == "Consistent" and not confirmed:
            self.last_wait = f"not starting on Consistent data until {o.peer} is fenced"
            return
        self.handoff_until = 0.0
        self.ask_token = 0
        out.append(StartGroup(reason, kind, confirmed))
        out.append(Decision(kind, reason))

    def _maybe_fence(self, o: Observation, out: list[Action]) -> None:
        """Without a witness a dead peer is proven only by fencing it (HB-6)."""
        if o.witness or not o.fencer or not self.claim or o.granted or o.peer_fenced:
            return
        if o.peer_state != "dead" or not o.may_fence_peer:
            return
        delay = PASSIVE_FENCE_DELAY.get(o.me, max(PASSIVE_FENCE_DELAY.values()))
        if o.peer_dead_for < delay:
            self.last_wait = f"fencing {o.peer} if it stays dead for {delay:.0f} s"
            return
        if o.now - self.fenced_at < FENCE_RETRY:
            return
        self.fenced_at = o.now
        out.append(FencePeer(f"{o.peer} dead for {o.peer_dead_for:.1f} s on all paths"))

    def _fence_lost_peer(self, o: Observation, out: list[Action]) -> None:
        """Without a witness, the node that runs the group fences a peer lost on every path
        at once: that peer, passive, would fence this node after PASSIVE_FENCE_DELAY to
        take over, and the service should stay where it runs."""
        if o.witness or not o.fencer or o.peer_fenced or not o.may_fence_peer:
            return
        if self.stopping_for or o.now - self.fenced_at < FENCE_RETRY:
            return
        self.fenced_at = o.now
        why = f"{o.peer} dead for {o.peer_dead_for:.1f} s on all paths; this node runs the group"
        out.append(FencePeer(why))

    # --- what the peer reads -----------------------------------------------------------

    def info(self, o: Observation) -> dict[str, Any]:
        ok, why = self.eligible(o)
        info: dict[str, Any] = {
            "active": o.group in ("starting", "running"),
            "stopping": o.group == "stopping",
            "eligible": ok,
            "handoff": o.now < self.handoff_until,
            "blocked": o.now < self.blocked_until,
        }
        if not ok:
            info["why_not"] = why[:120]
        if self.ask_token:
            info["ask"] = self.ask_token
            info["force"] = self.ask_force
        if self.answers:
            token, sentence = max(self.answers.items())
            info["answer_to"] = token
            info["answer"] = sentence[:120]
        return info

    def clear(self) -> None:
        """The operator has repaired what failed: this node may run the group again."""
        self.blocked_until = 0.0
        self.blocked_reason = ""
