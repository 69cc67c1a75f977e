"""The HA loop's core (`HaCore`) on a node of the membership simulator.

The membership simulator used to decide at random, or by a simple rule, when a node
claims the group. Here each simulated node runs the real failover policy instead: every
period it builds an `Observation` from its membership core and a simulated service group
(start and stop take a random while, a member fails now and then, an operator asks for a
switchover now and then), steps the core and carries out what it returns. The world's
checks then hold the real policy to invariant 1 (never both nodes running the group) and
to convergence after the faults are healed (exactly one node runs it).

The volume is not simulated here (the replication simulator covers it): the data is
UpToDate on both nodes, so this exercises membership, quorum, fencing, switchover,
member failure and self-fencing together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tandem.crm import core as c
from tandem.errors import UsageError
from tandem.membership.events import Released, Want

if TYPE_CHECKING:
    from tandem.membership.sim import SimNode, World

PERIOD = 0.25  # the HA loop's period, as in the daemon


class SimHa:
    """One node's HA loop over its simulated service group."""

    def __init__(self, world: World, node: SimNode) -> None:
        self.world = world
        self.node = node
        self.incarnation = node.incarnation
        self.core = c.HaCore(node.name)
        self.group = "stopped"
        self.busy = False
        self.pending: list[Callable[[], None]] = []
        self.failed: str | None = None
        self.token = 0
        self.request: c.Switchover | None = None

    # --- the loop ----------------------------------------------------------------------

    def alive(self) -> bool:
        """Until the node crashes; a restart of membership alone leaves the loop running."""
        return self.node.ha is self

    def start(self) -> None:
        self.world.sched.after(PERIOD / self.node.rate, self.step)

    def step(self) -> None:
        if not self.alive():
            return
        self.maybe_disturb()
        for action in self.core.step(self.observe()):
            self.execute(action)
            if not self.alive():
                return
        self.start()

    def observe(self) -> c.Observation:
        node, w = self.node, self.world
        m = node.core
        peer = f"node{3 - node.id}"
        request, self.request = self.request, None
        if m is None:  # membership is restarting: its socket does not answer
            return c.Observation(
                now=node.local(), me=node.name, peer=peer, membership_up=False, vol_up=True,
                role="Primary" if self.group != "stopped" else "Secondary", disk="UpToDate",
                group=self.group, group_failed=self.failed, fencer=not w.settings.witness,
                request=request,
            )  # fmt: skip
        alive = m.peer_state == "alive"
        theirs = m.peer_ping()
        # The volume as the engine reports it: a passive node that lost its peer holds
        # Consistent data, current when lost if it had seen the peer in this life.
        lost = not alive and self.group == "stopped"
        return c.Observation(
            now=node.local(),
            me=node.name,
            peer=peer,
            claimed=m.want,
            peer_state=m.peer_state,
            peer_dead_for=node.local() - m.peer_state_changed if m.peer_state == "dead" else 0,
            granted=m.decision.granted,
            basis=m.decision.basis,
            self_fence=node.self_fence,
            may_fence_peer=m.may_fence_peer(),
            peer_fenced=m.peer_fenced,
            witness=w.settings.witness,
            witness_reachable=m.witness_state(node.local()) == "reachable",
            witness_self_outdated=m.witness_self_outdated,
            witness_peer_outdated=m.witness_peer_outdated,
            ping_me=m.ping_ok(),
            ping_peer=(not theirs or any(theirs.values())) if alive else None,
            peer_crm=m.peer_crm() if alive else {},
            vol_up=True,
            role="Primary" if self.group != "stopped" else "Secondary",
            disk="Consistent" if lost else "UpToDate",
            current_when_lost=lost and m.peer.seen_since_boot,
            conn="Connected" if alive else "StandAlone",
            peer_disk="UpToDate" if alive else None,
            group=self.group,
            group_failed=self.failed,
            fencer=not w.settings.witness,
            request=request,
        )

    def maybe_disturb(self) -> None:
        """An operator's switchover, or a member that fails, now and then in the chaos."""
        w = self.world
        if w.healed:
            return
        chance = w.rng.random()
        if chance < 0.01:
            self.token += 1
            self.request = c.Switchover(self.token, force=w.rng.random() < 0.3)
            w.trace(f"{self.node.name}: an operator asks for a switchover")
        elif chance < 0.015 and self.group == "running" and self.failed is None:
            self.failed = "a member failed (simulated)"
            w.trace(f"{self.node.name}: a member of the group fails")

    def heal(self) -> None:
        """The operator repairs what failed (`tandem crm clear`)."""
        self.core.clear()

    # --- acting --------------------------------------------------------------------------

    def execute(self, a: c.Action) -> None:
        node, w = self.node, self.world
        if isinstance(a, c.SetClaim):
            if node.core is None:  # nothing answers: as the daemon, ask again next step
                self.core.claim = not a.want
                return
            try:
                node.feed(Want(a.want))
            except UsageError as exc:  # the daemon answers the request with this error
                w.trace(f"{node.name}: membership refuses the claim: {exc}")
                self.core.claim = not a.want  # as the daemon does: the next step asks again
        elif isinstance(a, c.StartGroup):
            w.trace(f"{node.name}: {a.reason}")
            self.queue(lambda: self.transition("starting", "running"))
        elif isinstance(a, c.StopGroup):
            w.trace(f"{node.name}: {a.reason}")
            self.queue(lambda: self.transition("stopping", "stopped"))
        elif isinstance(a, c.ReportReleased):
            self.failed = None
            if node.core is None:
                return  # lost, as the daemon's call would be; nothing was granted meanwhile
            node.self_fence = None
            node.feed(Released())
        elif isinstance(a, c.FencePeer):
            w.trace(f"{node.name}: fencing the peer: {a.reason}")
            w.fence(node)
        elif isinstance(a, c.Publish):
            if node.core is not None:
                node.core.set_crm_info(a.info, a.outdate_peer)
        elif isinstance(a, c.Decision) and a.kind in ("switchover", "fence"):
            w.trace(f"{node.name}: {a.sentence}")
        elif isinstance(a, c.Answer | c.ConfirmPeerOutdated | c.OutdateSelf | c.Decision):
            pass  # no volume here; answers go to an operator who is not there

    def queue(self, work: Callable[[], None]) -> None:
        """Group operations run one after the other, as the daemon's runner does."""
        self.pending.append(work)
        if not self.busy:
            self.pending.pop(0)()

    def transition(self, during: str, after: str) -> None:
        self.busy = True
        self.group = during
        self.node.running = True  # starting and stopping count as running (invariant 1)
        took = self.world.rng.uniform(0.05, 1.2)
        self.world.sched.after(took / self.node.rate, self.finish, after)

    def finish(self, state: str) -> None:
        if not self.alive():
            return
        self.busy = False
        self.group = state
        self.node.running = state != "stopped"
        self.world.trace(f"{self.node.name}: the group is {state}")
        if self.pending:
            self.pending.pop(0)()
