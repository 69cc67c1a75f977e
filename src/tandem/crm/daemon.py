"""`tandem crm run`: the HA loop on a node (CM-1 to CM-5).

Four times a second it reads membership and the volume over their sockets, gives the
observation to the core (core.py) and carries out what the core decides: claims, group
starts and stops (group.py, agents.py), fencing (fence.py), the volume's outdate
records. Every decision is logged as one sentence with its reason and written to the
event log with the duration of each step. The group runs in a task, so the loop keeps
observing (and membership keeps its watchdog) while a slow member starts or stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import signal
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tandem import paths, rpc
from tandem.config import ClusterConfig, NodeId, peer_of
from tandem.crm import core as c
from tandem.crm import fence
from tandem.crm.agents import (
    VOLUME_SOCKET,
    ContainersAgent,
    FilesystemAgent,
    LinksAgent,
    VolumeAgent,
)
from tandem.crm.group import GroupRunner, Transition
from tandem.errors import TandemError
from tandem.eventlog import log as events
from tandem.fsutil import atomic_write
from tandem.membership.daemon import SOCKET as MEMBERSHIP_SOCKET
from tandem.membership.daemon import hard_reset

log = logging.getLogger("tandem.crm")

SOCKET = paths.RUN_DIR / "crm.sock"
STATE_FILE = paths.STATE_DIR / "crm.json"
PERIOD = 0.25
MONITOR_PERIOD = 2.0


class CrmDaemon:
    def __init__(
        self,
        cfg: ClusterConfig,
        node: NodeId,
        socket_path: Path = SOCKET,
        membership: Path = MEMBERSHIP_SOCKET,
        volume: Path = VOLUME_SOCKET,
    ) -> None:
        self.cfg = cfg
        self.node = node
        self.peer = peer_of(node)
        self.socket_path = socket_path
        self.membership = membership
        self.volume = volume
        self.core = c.HaCore(node)
        self.volume_agent = VolumeAgent(volume)
        self.containers = ContainersAgent(
            cfg.failover.restarts, cfg.failover.restart_window, on_restart=self._restarted
        )
        self.runner = GroupRunner(
            [self.volume_agent, FilesystemAgent(), LinksAgent(), self.containers], self._reset
        )
        self.task: asyncio.Task[None] | None = None
        self.tokens = itertools.count(1)
        self.requests: list[c.Switchover] = []
        self.answers: dict[int, c.Answer] = {}
        self.failure: str | None = None
        self.peer_fenced = False
        self.published: tuple[dict[str, Any], bool | None] | None = None
        self.published_at = 0.0
        self.mstatus: dict[str, Any] = {}
        self.vstatus: dict[str, Any] = {}
        self.last_decision = ""
        self.stop_event = asyncio.Event()
        self.maintenance = _load_maintenance()
        self._last_obs: c.Observation | None = None

    # --- observing -------------------------------------------------------------------

    async def _ask(self, path: Path, op: str, **args: Any) -> dict[str, Any] | None:
        try:
            return await asyncio.to_thread(rpc.call, path, op, 5.0, **args)
        except TandemError as exc:
            log.debug("%s %s: %s", path.name, op, exc)
            return None

    async def observe(self) -> c.Observation:
        ms = await self._ask(self.membership, "status") or {}
        vs = await self._ask(self.volume, "status") or {}
        self.mstatus, self.vstatus = ms, vs
        group = ms.get("service_group", {})
        quorum = ms.get("quorum", {})
        peer_state = ms.get("peer_state", "unknown")
        if peer_state == "alive":
            self.peer_fenced = False
        dead_for = 0.0
        if peer_state == "dead" and ms.get("peer_state_since"):
            dead_for = max(0.0, time.time() - float(ms["peer_state_since"]))
        ping = ms.get("ping", {})
        mine = ping.get(self.node, {})
        theirs = ping.get(self.peer, {})
        record = ms.get("witness_record", {})
        fence_info = group.get("self_fence")
        request = self.requests.pop(0) if self.requests else None
        return c.Observation(
            now=time.monotonic(),
            me=self.node,
            peer=self.peer,
            membership_up=bool(ms),
            claimed=bool(group["claimed"]) if "claimed" in group else None,
            peer_state=peer_state,
            peer_dead_for=dead_for,
            granted=bool(group.get("granted")),
            basis=str(group.get("basis") or ""),
            self_fence=fence_info.get("reason") if isinstance(fence_info, dict) else None,
            may_fence_peer=bool(group.get("may_fence_peer")),
            peer_fenced=self.peer_fenced,
            witness=bool(quorum.get("witness_address")),
            witness_reachable=quorum.get("witness") == "reachable",
            witness_self_outdated=bool(record.get("self_outdated")),
            witness_peer_outdated=bool(record.get("peer_outdated")),
            ping_me=not mine or any(mine.values()),
            ping_peer=(not theirs or any(theirs.values())) if peer_state == "alive" else None,
            peer_crm=ms.get("crm", {}).get("peer", {}) if peer_state == "alive" else {},
            vol_up=bool(vs),
            role=str(vs.get("role", "Secondary")),
            disk=str(vs.get("disk", "Diskless")),
            conn=str(vs.get("connection", "StandAlone")),
            peer_disk=vs.get("peer_disk"),
            frozen=bool(vs.get("frozen")),
            current_when_lost=bool(vs.get("current_when_lost")),
            sync_done=vs.get("sync", {}).get("done_percent") if vs.get("sync") else None,
            group=self.runner.state,
            group_failed=self.failure,
            fencer=fence.available(self.cfg),
            request=request,
        )

    # --- acting ----------------------------------------------------------------------

    async def execute(self, a: c.Action) -> None:
        if isinstance(a, c.SetClaim):
            if await self._ask(self.membership, "want", want=a.want) is None:
                # Not taken (membership refuses a claim while a self-fence is under way,
                # or does not answer): the next step asks again.
                self.core.claim = not a.want
        elif isinstance(a, c.StartGroup):
            self.volume_agent.confirmed = a.confirmed
            self._run(self._start(a))
        elif isinstance(a, c.StopGroup):
            self._run(self._stop(a))
        elif isinstance(a, c.ReportReleased):
            await self._ask(self.membership, "released")
            self.failure = None
        elif isinstance(a, c.FencePeer):
            self._run(self._fence(a), group=False)
        elif isinstance(a, c.ConfirmPeerOutdated):
            await self._ask(self.volume, "outdate-peer")
        elif isinstance(a, c.OutdateSelf):
            await self._ask(self.volume, "outdate", reason=a.reason)
        elif isinstance(a, c.Publish):
            now = time.monotonic()
            current = (a.info, a.outdate_peer)
            # A membership that restarted holds none of our word: send it again at once.
            held = self.mstatus.get("crm", {}).get("mine")
            due = current != self.published or held != a.info or now - self.published_at > 1.0
            if due and await self._ask(
                self.membership, "crm", info=a.info, outdate_peer=a.outdate_peer
            ):
                self.published, self.published_at = current, now
        elif isinstance(a, c.Decision):
            self.decide(a.kind, a.sentence, a.severity)
        elif isinstance(a, c.Answer):
            self.answers[a.token] = a

    def decide(self, kind: str, sentence: str, severity: str = "info", **details: Any) -> None:
        """Each decision: one sentence with its reason, in the log and the event log."""
        self.last_decision = sentence
        getattr(log, "warning" if severity != "info" else "info")("%s", sentence)
        with contextlib.suppress(OSError):
            events.record(self.node, kind, sentence, severity=severity, details=details)

    def _run(self, coro: Any, group: bool = True) -> None:
        task = asyncio.create_task(coro)
        if group:
            self.task = task

    async def _start(self, a: c.StartGroup) -> None:
        t = await self.runner.start(a.kind, a.reason)
        self._finished(t)
        if not t.ok:
            self.core.blocked_until = time.monotonic() + c.BLOCK_SECONDS
            self.core.blocked_reason = self.runner.failed or "the group failed to start"
            await self._ask(self.membership, "released")

    async def _stop(self, a: c.StopGroup) -> None:
        t = await self.runner.stop(a.kind, a.reason)
        self._finished(t)

    def _finished(self, t: Transition) -> None:
        verb = "started" if t.steps and t.steps[0].name.startswith("start") else "stopped"
        if not t.ok:
            failed = next((s for s in t.steps if not s.ok), None)
            sentence = f"the group could not be {verb}: {failed.name if failed else '?'} failed"
            if failed is not None:
                sentence += f" ({failed.detail})"
            severity = "critical"
        else:
            sentence = f"the group {verb} on {self.node} in {t.seconds:.2f} s ({t.kind})"
            severity = "info"
        log.info("%s", sentence)
        with contextlib.suppress(OSError):
            events.record(
                self.node, t.kind, sentence, severity=severity,
                details={"reason": t.reason}, steps=t.steps,
            )  # fmt: skip

    async def _fence(self, a: c.FencePeer) -> None:
        self.decide("fence", f"fencing {self.peer}: {a.reason}", "warning")
        try:
            result = await asyncio.to_thread(fence.fence, self.cfg, self.peer)
        except TandemError as exc:
            self.decide("fence", f"fencing {self.peer} failed: {exc}", "critical")
            return
        self.peer_fenced = True
        await self._ask(self.membership, "fenced")
        self.decide("fence", result, "warning")

    def _restarted(self, veid: int, why: str) -> None:
        self.decide("container", why, "warning", veid=veid)

    def _reset(self, reason: str) -> None:
        with contextlib.suppress(OSError):
            events.record(
                self.node, "self-fence", f"resetting the node: {reason}", severity="critical"
            )
        hard_reset(reason)

    async def monitor(self) -> None:
        while True:
            await asyncio.sleep(MONITOR_PERIOD)
            # In maintenance mode an operator works by hand: a container stopped then is
            # not a failure, and restarting it in place would be acting.
            if self.maintenance or self.runner.state != "running" or self.failure:
                continue
            problem = await self.runner.monitor()
            if problem:
                self.failure = problem
                self.decide("resource", f"a member of the group failed: {problem}", "warning")

    # --- RPC -------------------------------------------------------------------------

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "status":
            return self.status()
        if op == "switchover":
            token = next(self.tokens)
            self.requests.append(c.Switchover(token, bool(request.get("force"))))
            for _ in range(40):
                await asyncio.sleep(PERIOD / 2)
                answer = self.answers.pop(token, None)
                if answer is not None:
                    if not answer.accepted:
                        raise TandemError(answer.reason)
                    return {"token": token, "accepted": answer.reason, **self.status()}
            raise TandemError("the HA loop did not answer the switchover within 5 s")
        if op == "maintenance":
            on = request.get("on")
            if not isinstance(on, bool):
                raise TandemError("maintenance needs on: true or false")
            self.maintenance = on
            atomic_write(STATE_FILE, json.dumps({"maintenance": on}) + "\n", 0o600)
            self.decide(
                "maintenance",
                "maintenance mode on: the HA loop watches but does not act"
                if on
                else "maintenance mode off: the HA loop acts again",
            )
            return self.status()
        if op == "clear":
            self.core.clear()
            self.failure = None
            self.decide("resource", "the operator cleared the failure: this node may run the group")
            return self.status()
        raise TandemError(
            f"unknown op {op!r}; the crm knows status, switchover, clear, maintenance"
        )

    def status(self) -> dict[str, Any]:
        last = self.runner.last
        ok, why = self.core.eligible(self._last_obs) if self._last_obs else (False, "starting")
        return {
            "node": self.node,
            "peer": self.peer,
            "maintenance": self.maintenance,
            "group": self.runner.state,
            "active": self.runner.state in ("starting", "running"),
            "members": dict(self.runner.members),
            "claim": self.core.claim,
            "may_run": ok,
            "why_not": why or None,
            "waiting": self.core.last_wait or None,
            "failure": self.failure,
            "blocked": self.core.blocked_reason if self.core.blocked_until > time.monotonic()
            else None,
            "peer_crm": self.mstatus.get("crm", {}).get("peer", {}),
            "last_decision": self.last_decision or None,
            "last_transition": None if last is None else {
                "kind": last.kind, "reason": last.reason, "ok": last.ok,
                "started": last.started, "finished": last.finished or None,
                "seconds": last.seconds, "steps": [asdict(s) for s in last.steps],
            },
        }  # fmt: skip

    # --- running ---------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop_event.set)
        server = await rpc.serve(self.socket_path, self.handle)
        watcher = asyncio.create_task(self.monitor())
        log.info("HA loop of %s up", self.node)
        try:
            while not self.stop_event.is_set():
                obs = await self.observe()
                self._last_obs = obs
                if self.maintenance:
                    # Watch only: an operator works on the volume or the containers by hand.
                    info = {"active": obs.group in ("starting", "running"), "maintenance": True}
                    await self.execute(c.Publish(info, self.core.outdate_peer))
                else:
                    for action in self.core.step(obs):
                        await self.execute(action)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop_event.wait(), PERIOD)
        finally:
            watcher.cancel()
            server.close()
            await self._shutdown()
            self.socket_path.unlink(missing_ok=True)
        log.info("HA loop of %s down", self.node)

    async def _shutdown(self) -> None:
        """A clean stop of the node: the group goes first, then the claim."""
        if self.task is not None and not self.task.done():
            with contextlib.suppress(Exception):
                await self.task
        if self.runner.state in ("running", "starting"):
            self.decide("switchover", f"stopping the group: {self.node} shuts down")
            await self.runner.stop("shutdown", "the node shuts down")
        await self._ask(self.membership, "released")


def _load_maintenance() -> bool:
    try:
        return bool(json.loads(STATE_FILE.read_text()).get("maintenance"))
    except (FileNotFoundError, ValueError, AttributeError):
        return False
