"""Membership in the deterministic simulator: the real cores of two nodes and the witness
over a virtual network, with a random fault schedule derived from one seed.

A schedule has a chaos phase (paths cut and healed one way or both, loss, delay, jitter,
duplicates, nodes and the witness crashed and restarted, ping nodes lost, clocks that run
at slightly different rates, a stand-in for the failover logic that claims and gives up
the group at random, or the real HA core of tandem.crm.sim) and then a heal phase in
which everything is repaired and the cluster must converge. Checked after every step:

- never both nodes granted the service group, never both running it (invariant 1);
- a peer that keeps delivering heartbeats is never declared dead after initdead;
- a stopped peer is declared dead within deadtime plus one keepalive;
- after healing: both nodes alive to each other on every path, and exactly one node
  granted when one claims the group.

Replay a failing schedule with `python -m tandem.membership.sim --seed N`.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tandem.config.timing import PROFILES
from tandem.crm.sim import SimHa
from tandem.membership.core import CoreConfig, MembershipCore
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
from tandem.membership.wire import PathName
from tandem.membership.witness_core import WitnessCore
from tandem.sim.network import Network
from tandem.sim.scheduler import Scheduler

PATHS: tuple[PathName, ...] = ("serial", "crossover", "external")
PING = "ping-node"
MAX_JITTER = 0.3
MAX_DELAY = 0.05 + MAX_JITTER


class SimulationFailure(AssertionError):
    def __init__(self, seed: int, at: float, message: str, trace: list[str]) -> None:
        self.seed = seed
        tail = "\n".join(trace[-25:])
        super().__init__(
            f"seed {seed} failed at t={at:.3f}: {message}\n"
            f"replay: python -m tandem.membership.sim --seed {seed} -v\n--- last events ---\n{tail}"
        )


@dataclass
class Settings:
    witness: bool = True
    chaos: float = 20.0
    heal: float = 12.0
    profile: str = "fast"
    chaotic_crm: bool = True
    ha_core: bool = False  # the real failover policy (tandem.crm.sim) instead of a stand-in


@dataclass
class SimNode:
    world: World
    id: int
    offset: float
    rate: float
    generation: int = 0
    incarnation: int = 0
    core: MembershipCore | None = None
    running: bool = False
    known_peer_generation: int = 0
    booted_at: float = 0.0
    stopping: bool = False
    first_arrivals: set[tuple[int, str, int]] = field(default_factory=set)
    self_fence: str | None = None  # why membership asked this node to stop the group
    ha: SimHa | None = None

    @property
    def name(self) -> str:
        return f"node{self.id}"

    def local(self) -> float:
        return self.offset + self.rate * self.world.sched.now

    def boot(self) -> None:
        w = self.world
        self.generation += 1
        self.incarnation += 1
        self.core = MembershipCore(
            w.core_config(self.id), self.generation, self.local(), self.known_peer_generation
        )
        self.booted_at = w.sched.now
        self.running = self.stopping = False
        self.self_fence = None
        w.trace(f"{self.name} boots (generation {self.generation})")
        self._tick(self.incarnation)
        self._ping(self.incarnation)
        if w.settings.ha_core:
            self.ha = SimHa(w, self)
            self.ha.start()

    def restart_membership(self, gap: float) -> None:
        """Only the membership daemon ends (an operator's configuration change restarts
        it): the HA loop and the group keep running, and the new life knows nothing."""
        if self.core is None or self.ha is None:
            return
        self.known_peer_generation = max(self.known_peer_generation, self.core.peer.generation)
        self.core = None
        self.self_fence = None
        self.incarnation += 1  # the old life's timers, beats and witness replies are gone
        self.world.trace(f"{self.name}: membership restarts (back in {gap:.2f} s)")
        self.world.sched.after(gap, self._membership_back, self.incarnation)

    def _membership_back(self, incarnation: int) -> None:
        if incarnation != self.incarnation or self.ha is None:
            return  # the node crashed meanwhile
        w = self.world
        self.generation += 1
        self.core = MembershipCore(
            w.core_config(self.id), self.generation, self.local(), self.known_peer_generation
        )
        self.booted_at = w.sched.now
        w.trace(f"{self.name}: membership up again (generation {self.generation})")
        self._tick(self.incarnation)
        self._ping(self.incarnation)

    def crash(self, why: str) -> None:
        if self.core is None and self.ha is None:
            return
        if self.core is not None:
            self.known_peer_generation = max(self.known_peer_generation, self.core.peer.generation)
        self.core = None
        self.ha = None
        self.running = self.stopping = False
        self.incarnation += 1
        self.world.trace(f"{self.name} crashes ({why})")
        self.world.note_crash(self)

    def _tick(self, incarnation: int) -> None:
        if incarnation != self.incarnation or self.core is None:
            return
        self.feed(Tick())
        self.world.sched.after(self.world.tick / self.rate, self._tick, incarnation)

    def _ping(self, incarnation: int) -> None:
        if incarnation != self.incarnation or self.core is None:
            return
        self.feed(PingResult(PING, self.world.ping_ok[self.id]))
        interval = self.world.timing.ping_interval
        self.world.sched.after(interval / self.rate, self._ping, incarnation)

    def feed(self, event: Event) -> None:
        if self.core is None:
            return
        actions = self.core.handle(event, self.local())
        self.world.after_feed(self, actions)

    def receive_beat(
        self,
        incarnation: int,
        path: PathName,
        gen: int,
        seq: int,
        body: dict[str, Any],
        sender: SimNode,
    ) -> None:
        if self.core is None or incarnation != self.incarnation:
            return
        key = (gen, path, seq)
        if key not in self.first_arrivals:
            self.first_arrivals.add(key)
            self.world.last_delivery[(sender.id, self.id)] = self.world.sched.now
        self.feed(BeatReceived(path, gen, seq, body))


class SimWitness:
    def __init__(self, world: World) -> None:
        self.world = world
        self.core: WitnessCore | None = None
        self.generation = 0
        self.seq = 0

    def boot(self) -> None:
        t = self.world.timing
        self.generation += 1
        self.seq = 0
        self.core = WitnessCore(
            lease=t.deadtime * 1.5, now=self.world.sched.now, head_start=2 * t.keepalive + 0.1
        )
        self.world.trace(f"witness boots (generation {self.generation})")

    def crash(self) -> None:
        self.core = None
        self.world.trace("witness crashes")

    def receive(self, node: SimNode, gen: int, seq: int, body: dict[str, Any]) -> None:
        if self.core is None:
            return
        reply = self.core.request(node.id, gen, seq, body, self.world.sched.now)
        if reply is None:
            return
        self.seq += 1
        self.world.net.send(
            "W",
            node.id,
            "witness",
            self._deliver,
            node,
            node.incarnation,
            self.generation,
            self.seq,
            reply,
        )

    @staticmethod
    def _deliver(
        node: SimNode, incarnation: int, gen: int, seq: int, reply: dict[str, Any]
    ) -> None:
        if incarnation == node.incarnation:
            node.feed(WitnessReplied(gen, seq, reply))


class World:
    def __init__(self, seed: int, settings: Settings | None = None) -> None:
        self.seed = seed
        self.settings = s = settings or Settings()
        self.sched = Scheduler(seed)
        self.rng = self.sched.rng
        self.net = Network(self.sched)
        self.timing = PROFILES[s.profile]  # type: ignore[index]
        self.tick = self.timing.keepalive / 4
        self.log: list[str] = []
        self.ping_ok = {1: True, 2: True}
        self.last_delivery: dict[tuple[int, int], float] = {}
        self.healed = False
        self.nodes = {
            i: SimNode(
                self, i, offset=self.rng.uniform(0, 1000), rate=1 + self.rng.uniform(-2e-4, 2e-4)
            )
            for i in (1, 2)
        }
        self.witness = SimWitness(self)
        self.checks: list[tuple[float, Callable[[], None]]] = []

    # --- configuration ---------------------------------------------------------------

    def core_config(self, node: int) -> CoreConfig:
        t = self.timing
        return CoreConfig(
            node=node,
            paths=PATHS,
            keepalive=t.keepalive,
            warntime=t.warntime,
            deadtime=t.deadtime,
            initdead=t.initdead,
            witness=self.settings.witness,
            margin=t.keepalive / 2,
            ping_nodes=(PING,),
            await_crm=self.settings.ha_core,
        )

    # --- tracing and failing ---------------------------------------------------------

    def trace(self, text: str) -> None:
        self.log.append(f"{self.sched.now:9.3f} {text}")

    def fail(self, message: str) -> None:
        raise SimulationFailure(self.seed, self.sched.now, message, self.log)

    # --- what nodes do -----------------------------------------------------------------

    def after_feed(self, node: SimNode, actions: list[Action]) -> None:
        core = node.core
        assert core is not None
        for action in actions:
            self.execute(node, action)
            if node.core is None:
                return
        if self.settings.ha_core:
            return  # the HA loop starts the group (tandem.crm.sim)
        if core.decision.granted and not node.running and not node.stopping:
            node.running = True
            self.trace(f"{node.name} starts the service group")

    def execute(self, node: SimNode, action: Action) -> None:
        peer = self.nodes[3 - node.id]
        if isinstance(action, SendBeat):
            for path in action.paths:
                self.net.send(
                    node.id,
                    peer.id,
                    path,
                    peer.receive_beat,
                    peer.incarnation,
                    path,
                    node.generation,
                    action.seq,
                    action.body,
                    node,
                )
        elif isinstance(action, SendWitness):
            self.net.send(
                node.id,
                "W",
                "witness",
                self.witness.receive,
                node,
                node.generation,
                action.seq,
                action.body,
            )
        elif isinstance(action, SelfFence):
            self.trace(f"{node.name}: {action.reason}")
            if self.settings.ha_core:
                node.self_fence = action.reason  # the HA loop reads it and stops the group
                return
            node.stopping = True
            remaining = max(0.0, action.deadline - node.local())
            # The stand-in is sometimes too slow, so that the watchdog has to act.
            delay = self.rng.uniform(0.0, 1.3) * remaining / node.rate
            self.sched.after(delay, self.stop_services, node, node.incarnation)
        elif isinstance(action, HardReset):
            node.crash("watchdog reset")
            self.sched.after(self.rng.uniform(0.1, 3.0), self.restart, node)
        elif isinstance(action, Notice):
            self.trace(f"{node.name}: {action.sentence}")
            if action.kind == "peer" and action.data.get("state") == "dead":
                self.check_not_delivering(node)

    def stop_services(self, node: SimNode, incarnation: int) -> None:
        if incarnation != node.incarnation or node.core is None:
            return
        if node.running:
            self.trace(f"{node.name} stops the service group")
        node.running = node.stopping = False
        node.feed(Released())

    def restart(self, node: SimNode) -> None:
        if node.core is None:
            node.boot()

    # --- the failover logic's stand-in ------------------------------------------------

    def crm_step(self, node: SimNode, incarnation: int) -> None:
        if incarnation != node.incarnation or node.core is None:
            return
        core = node.core
        if not node.stopping and core.fence_deadline is None:
            if self.settings.chaotic_crm and not self.healed:
                want = self.rng.random() < 0.5
            else:
                want = self.sensible_want(node)
            # Giving the group up goes the way of every stop: the core asks (SelfFence),
            # the services stop, Released reports it.
            node.feed(Want(want))
        if (
            node.core is not None
            and not self.settings.witness
            and node.core.want
            and node.core.may_fence_peer()
            and not node.core.peer_fenced
        ):
            self.fence(node)
        self.sched.after(self.rng.uniform(0.2, 2.5), self.crm_step, node, incarnation)

    def first_crm_step(self, node: SimNode) -> None:
        self.crm_step(node, node.incarnation)

    def sensible_want(self, node: SimNode) -> bool:
        core = node.core
        assert core is not None
        peer = self.nodes[3 - node.id]
        if node.running:
            return True
        if core.peer_state == "dead":
            return True
        peer_granted = bool(core.peer.body.get("granted"))
        return not peer_granted and (node.id == 1 or peer.core is None)

    def fence(self, node: SimNode) -> None:
        peer = self.nodes[3 - node.id]
        self.trace(f"{node.name} fences {peer.name}")
        peer.crash("fenced")
        self.sched.after(self.rng.uniform(0.5, 4.0), self.restart, peer)
        node.feed(PeerFenced())

    # --- checks ----------------------------------------------------------------------

    def check(self) -> None:
        n1, n2 = self.nodes[1], self.nodes[2]
        if self.effectively_granted(n1) and self.effectively_granted(n2):
            self.fail("both nodes are granted the service group")
        if n1.running and n2.running:
            self.fail("both nodes run the service group")
        while self.checks and self.checks[0][0] <= self.sched.now:
            _, fn = self.checks.pop(0)
            fn()

    @staticmethod
    def effectively_granted(node: SimNode) -> bool:
        core = node.core
        return core is not None and core.decision.granted and node.local() < core.decision.until

    def check_not_delivering(self, node: SimNode) -> None:
        """A peer declared dead must really have been silent for deadtime."""
        if node.core is None or self.sched.now - node.booted_at < self.timing.initdead:
            return
        last = self.last_delivery.get((3 - node.id, node.id), -math.inf)
        quiet = self.sched.now - last
        needed = self.timing.deadtime / node.rate - MAX_JITTER - 2 * self.tick
        if quiet < needed:
            self.fail(f"{node.name} declared its peer dead after only {quiet:.3f} s of silence")

    def note_crash(self, crashed: SimNode) -> None:
        observer = self.nodes[3 - crashed.id]
        at = self.sched.now
        deadline = at + self.timing.deadtime + self.timing.keepalive + MAX_DELAY
        life = crashed.incarnation

        def dead_by_now() -> None:
            core = observer.core
            if core is None or observer.booted_at > at or crashed.incarnation != life:
                return  # the observer rebooted, or the peer came back in between
            booting = self.sched.now - observer.booted_at < self.timing.initdead + 2 * self.tick
            if core.peer_state == "unknown" and booting:
                return  # a booting node waits initdead, not deadtime (HB-2)
            if core.peer_state != "dead":
                self.fail(
                    f"{observer.name} still thinks {crashed.name} is {core.peer_state} "
                    f"{self.sched.now - at:.2f} s after it stopped"
                )

        self.checks.append((deadline, dead_by_now))
        self.checks.sort(key=lambda c: c[0])

    # --- the schedule ----------------------------------------------------------------

    def schedule_faults(self) -> None:
        rng, s = self.rng, self.settings
        t = 0.5
        while t < s.chaos:
            t += rng.expovariate(1 / 0.6)
            self.sched.at(t, self.random_fault)
        self.sched.at(s.chaos, self.heal)

    def random_fault(self) -> None:
        if self.healed:
            return
        rng = self.rng
        kind = rng.choices(
            ["cut", "heal", "loss", "jitter", "dup", "crash", "witness", "wlink", "ping",
             "mrestart"],
            weights=[5, 6, 2, 2, 1, 1, 1, 2, 2, 1 if self.settings.ha_core else 0],
        )[0]  # fmt: skip
        node = rng.choice([1, 2])
        if kind in ("cut", "heal", "loss", "jitter", "dup"):
            self.link_fault(kind, node)
        else:
            self.machine_fault(kind, node)

    def link_fault(self, kind: str, node: int) -> None:
        """Cut, heal or degrade one path, one way or both."""
        rng = self.rng
        path = rng.choice(PATHS)
        directions = [(node, 3 - node)] if rng.random() < 0.4 else [(1, 2), (2, 1)]
        for src, dst in directions:
            c = self.net.link(src, dst, path)
            if kind == "cut":
                c.cut = True
            elif kind == "heal":
                c.cut = False
            elif kind == "loss":
                c.loss = rng.choice([0.0, 0.1, 0.5, 0.9])
            elif kind == "jitter":
                c.jitter = rng.choice([0.0, 0.01, 0.1, MAX_JITTER])
            else:
                c.duplicate = rng.choice([0.0, 0.3])
        self.trace(f"fault: {kind} {path} {directions}")

    def machine_fault(self, kind: str, node: int) -> None:
        rng = self.rng
        if kind == "crash":
            target = self.nodes[node]
            if target.core is not None:
                target.crash("fault")
                down = rng.uniform(0.05, 6.0)
                if self.settings.ha_core and not self.settings.witness and rng.random() < 0.3:
                    # Down long enough for the passive node to fence it and take over
                    # (crm.core.PASSIVE_FENCE_DELAY): the path that only fencing opens.
                    down += 10.0
                self.sched.after(down, self.restart, target)
        elif kind == "mrestart":
            # The supervisor starts it again after 1 s; a longer absence than the grant
            # is not covered yet (docs/failover.md, "Not done yet").
            self.nodes[node].restart_membership(rng.uniform(0.05, 1.0))
        elif kind == "witness" and self.settings.witness:
            if self.witness.core is not None:
                self.witness.crash()
                self.sched.after(rng.uniform(0.1, 6.0), self.witness.boot)
        elif kind == "wlink":
            # Each direction on its own: a witness may hear a node that cannot hear it.
            self.net.link(node, "W", "witness").cut = rng.random() < 0.5
            self.net.link("W", node, "witness").cut = rng.random() < 0.5
            self.trace(f"fault: witness link of node{node} toggled")
        elif kind == "ping":
            self.ping_ok[node] = rng.random() < 0.5
            self.trace(f"fault: node{node} ping node {'ok' if self.ping_ok[node] else 'lost'}")

    def heal(self) -> None:
        self.healed = True
        self.trace("heal: every fault repaired")
        self.net.heal_all()
        self.ping_ok = {1: True, 2: True}
        for node in self.nodes.values():
            if node.core is None and node.ha is None:  # down (not a membership restart)
                node.boot()
                if not self.settings.ha_core:
                    self.sched.after(0.5, self.crm_step, node, node.incarnation)
            if node.ha is not None:
                node.ha.heal()
        if self.settings.witness and self.witness.core is None:
            self.witness.boot()

    def converged(self) -> None:
        n1, n2 = self.nodes[1], self.nodes[2]
        for node in (n1, n2):
            core = node.core
            if core is None:
                self.fail(f"{node.name} is down after healing")
                return
            if core.peer_state != "alive":
                self.fail(f"{node.name} sees its peer {core.peer_state} after healing")
            down = [p for p, st in core.path_state.items() if st != "up"]
            if down:
                self.fail(f"{node.name}: paths {down} still down after healing")
        if self.settings.ha_core:
            running = [n.name for n in (n1, n2) if n.ha is not None and n.ha.group == "running"]
            if len(running) != 1:
                self.fail(f"after healing the group runs on {running or 'no node'}, not one")
        wanting = [n for n in (n1, n2) if n.core is not None and n.core.want]
        granted = [n for n in (n1, n2) if self.effectively_granted(n)]
        if wanting and len(granted) != 1:
            self.fail(
                f"after healing {len(granted)} nodes are granted although "
                f"{[n.name for n in wanting]} claim the group"
            )

    def run(self) -> None:
        for node in self.nodes.values():
            self.sched.at(self.rng.uniform(0, 1.0), node.boot)
            if not self.settings.ha_core:
                self.sched.at(self.rng.uniform(0.5, 2.0), self.first_crm_step, node)
        if self.settings.witness:
            self.sched.at(0.0, self.witness.boot)
        self.schedule_faults()
        end = self.settings.chaos + self.settings.heal
        self.sched.run(end, self.check)
        self.converged()


def run_schedule(seed: int, settings: Settings | None = None, verbose: bool = False) -> World:
    world = World(seed, settings)
    try:
        world.run()
    finally:
        if verbose:
            print("\n".join(world.log))
    return world


def settings_for(seed: int) -> Settings:
    """Every seed picks its own mix: witness or not, and as failover logic a chaotic
    stand-in (even seeds), a sensible one, or the real HA core (seeds 1 mod 4). The HA
    core's heal phase outlasts a switchover's hand-over wait (30 s)."""
    if seed % 4 == 1:
        return ha_settings(seed)
    return Settings(witness=seed % 3 != 2, chaotic_crm=seed % 2 == 0)


def ha_settings(seed: int) -> Settings:
    """The real HA core as failover logic, with or without the witness."""
    return Settings(witness=seed % 3 != 2, chaotic_crm=False, ha_core=True, heal=35.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run membership fault schedules")
    parser.add_argument("--seed", type=int, help="replay one schedule")
    parser.add_argument("--schedules", type=int, default=200)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    seeds = [args.seed] if args.seed is not None else range(args.start, args.start + args.schedules)
    started = time.monotonic()
    steps = 0
    for seed in seeds:
        try:
            world = run_schedule(seed, settings_for(seed), verbose=args.verbose)
        except SimulationFailure as exc:
            print(exc, file=sys.stderr)
            return 1
        steps += world.sched.steps
    took = time.monotonic() - started
    print(f"{len(seeds)} schedules, {steps} steps, all invariants held ({took:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
