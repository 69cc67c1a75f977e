"""The service group runner: members started in order and stopped in reverse, each step
timed (CM-5), each with its own timeout.

A start that fails stops what was started and reports the group failed. A stop that
fails or hangs is retried the hard way (fast: containers killed, /vz's users killed);
if that fails too, the node resets itself (self-fence): half a group left on one node
would block the other node for ever (CM-1).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from tandem.crm.agents import Agent
from tandem.eventlog.log import Step

log = logging.getLogger("tandem.crm")


@dataclass
class Transition:
    kind: str
    reason: str
    started: float  # wall clock
    steps: list[Step]
    ok: bool = True
    finished: float = 0.0

    @property
    def seconds(self) -> float:
        return round(sum(s.seconds for s in self.steps), 3)


class GroupRunner:
    def __init__(self, agents: Sequence[Agent], hard_reset: Callable[[str], None]) -> None:
        self.agents = list(agents)
        self.state = "stopped"
        self.failed: str | None = None
        self.members: dict[str, str] = {a.name: "stopped" for a in self.agents}
        self.last: Transition | None = None
        self.hard_reset = hard_reset

    async def _call(
        self, what: str, agent: Agent, fn: Callable[[], object], timeout: float
    ) -> Step:
        began = time.monotonic()
        name = f"{what} {agent.name}"
        try:
            result = await asyncio.wait_for(asyncio.to_thread(fn), timeout)
        except TimeoutError:
            seconds = round(time.monotonic() - began, 3)
            return Step(name, seconds, False, f"no answer within {timeout:g} s")
        except Exception as exc:
            seconds = round(time.monotonic() - began, 3)
            text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            return Step(name, seconds, False, text)
        return Step(name, round(time.monotonic() - began, 3), True, str(result))

    async def start(self, kind: str, reason: str) -> Transition:
        self.state, self.failed = "starting", None
        t = Transition(kind, reason, time.time(), [])
        self.last = t
        for agent in self.agents:
            self.members[agent.name] = "starting"
            step = await self._call("start", agent, agent.start, agent.start_timeout)
            t.steps.append(step)
            log.info("%s: %s (%.2f s)", step.name, step.detail, step.seconds)
            if not step.ok:
                self.members[agent.name] = "failed"
                t.ok = False
                log.error("the group failed to start: %s: %s", step.name, step.detail)
                await self._stop_members(t, fast=False)
                self.failed = f"{step.name} failed: {step.detail}"
                self.state = "stopped"
                t.finished = time.time()
                return t
            self.members[agent.name] = "running"
        self.state = "running"
        t.finished = time.time()
        return t

    async def stop(self, kind: str, reason: str) -> Transition:
        self.state = "stopping"
        t = Transition(kind, reason, time.time(), [])
        self.last = t
        await self._stop_members(t, fast=False)
        self.state = "stopped"
        t.finished = time.time()
        return t

    async def _stop_members(self, t: Transition, fast: bool) -> None:
        for agent in reversed(self.agents):
            if self.members[agent.name] == "stopped":
                continue
            self.members[agent.name] = "stopping"
            step = await self._call("stop", agent, partial(agent.stop, fast), agent.stop_timeout)
            if not step.ok:
                log.error("%s failed (%s): trying the hard way", step.name, step.detail)
                t.steps.append(step)
                hard = partial(agent.stop, True)
                step = await self._call("kill", agent, hard, agent.stop_timeout)
            t.steps.append(step)
            if not step.ok:
                t.ok = False
                self.members[agent.name] = "failed"
                # Never half a group here and half there: the node goes (self-fence).
                self.hard_reset(f"{step.name} failed twice ({step.detail})")
                return
            log.info("%s: %s (%.2f s)", step.name, step.detail, step.seconds)
            self.members[agent.name] = "stopped"

    async def monitor(self) -> str | None:
        """Check each running member; the first problem, or None."""
        if self.state != "running":
            return None
        for agent in self.agents:
            try:
                problem = await asyncio.wait_for(asyncio.to_thread(agent.monitor), 30)
            except TimeoutError:
                problem = f"{agent.name} does not answer its monitor within 30 s"
            if problem:
                self.members[agent.name] = "failed"
                return problem
        return None
