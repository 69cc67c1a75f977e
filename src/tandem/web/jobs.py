"""Long operations (apt update, apt upgrade) as jobs whose output the pages show live.

A job is a child process whose output lines are kept in memory; the pages follow them
over server-sent events. Jobs that share a lock (apt has one) never run at once here.
Only fixed commands become jobs: the node-to-node API names a kind, never an argv.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from tandem.errors import TandemError

log = logging.getLogger(__name__)

MAX_LINES = 5000
MAX_JOBS = 20


class Busy(TandemError):
    pass


@dataclass
class Job:
    title: str
    argv: list[str]
    lock: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    state: str = "running"  # running, done, failed
    exit_code: int | None = None
    started: float = field(default_factory=time.time)
    ended: float | None = None
    lines: list[str] = field(default_factory=list)
    first_line: int = 0  # index of lines[0] once old lines were dropped
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    # Called once when the job has ended (the mail after updates, NT-1); not when the web
    # stops under a running job, because then nothing is known about how it ended.
    on_end: Callable[[Job], object] | None = None

    def view(self, since: int = 0) -> dict[str, Any]:
        start = max(since, self.first_line)
        return {
            "id": self.id,
            "title": self.title,
            "state": self.state,
            "exit_code": self.exit_code,
            "started": self.started,
            "ended": self.ended,
            "next": self.first_line + len(self.lines),
            "lines": self.lines[start - self.first_line :],
        }

    def _add(self, line: str) -> None:
        self.lines.append(line)
        if len(self.lines) > MAX_LINES:
            drop = len(self.lines) - MAX_LINES
            del self.lines[:drop]
            self.first_line += drop
        self._wake()

    def _wake(self) -> None:
        event, self.changed = self.changed, asyncio.Event()
        event.set()


class Jobs:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._procs: set[asyncio.subprocess.Process] = set()

    def start(
        self,
        title: str,
        argv: list[str],
        lock: str,
        env: dict[str, str],
        on_end: Callable[[Job], object] | None = None,
    ) -> Job:
        self._check_lock(lock)
        job = self._add(Job(title, argv, lock, on_end=on_end))
        self._spawn(self._run(job, env), title)
        return job

    def _check_lock(self, lock: str) -> None:
        for job in self.jobs.values():
            if job.lock == lock and job.state == "running":
                raise Busy(f"{job.title} is still running; wait until it has finished")

    def _add(self, job: Job) -> Job:
        self.jobs[job.id] = job
        finished = [j for j in self.jobs.values() if j.state != "running"]
        while len(self.jobs) > MAX_JOBS and finished:
            del self.jobs[finished.pop(0).id]
        return job

    def _spawn(self, work: Coroutine[Any, Any, None], title: str) -> None:
        task = asyncio.create_task(work, name=f"job {title}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def start_call(
        self, title: str, work: Callable[[Callable[[str], None]], str], lock: str
    ) -> Job:
        """A job that runs `work` in a thread; `work` reports progress lines through the
        function it is given and returns its closing sentence (or raises TandemError)."""
        self._check_lock(lock)
        job = self._add(Job(title, [], lock))
        loop = asyncio.get_running_loop()

        def say(line: str) -> None:
            loop.call_soon_threadsafe(job._add, line)

        async def run() -> None:
            try:
                job._add(await asyncio.to_thread(work, say))
                self._finish(job, 0)
            except (TandemError, OSError) as exc:
                job._add(f"failed: {exc}")
                self._finish(job, 1)

        self._spawn(run(), title)
        return job

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    async def _run(self, job: Job, env: dict[str, str]) -> None:
        job._add(f"$ {' '.join(job.argv)}")
        try:
            proc = await asyncio.create_subprocess_exec(
                *job.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, **env},
            )
        except OSError as exc:
            job._add(f"cannot start {job.argv[0]}: {exc}")
            self._finish(job, None)
            return
        self._procs.add(proc)
        try:
            assert proc.stdout is not None
            async for raw in proc.stdout:
                job._add(raw.decode(errors="replace").rstrip("\n"))
            self._finish(job, await proc.wait())
        finally:
            self._procs.discard(proc)

    async def close(self) -> None:
        """Ends what still runs when the web stops: a child left behind would hold its
        pipe into an event loop that no longer exists (and apt's lock with it)."""
        for proc in list(self._procs):
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        for task in list(self._tasks):
            task.cancel()
        for proc in list(self._procs):
            await proc.wait()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @staticmethod
    def _finish(job: Job, code: int | None) -> None:
        job.exit_code = code
        job.state = "done" if code == 0 else "failed"
        job.ended = time.time()
        job._wake()
        if job.on_end is not None:
            try:
                job.on_end(job)
            except (OSError, TandemError) as exc:  # the job's own outcome stands
                log.warning("after job %s (%s): %s", job.id, job.title, exc)

    async def wait(self, job: Job, since: int, timeout: float) -> None:
        """Until the job has lines beyond `since` or has ended (or the timeout passed)."""
        if job.first_line + len(job.lines) > since or job.state != "running":
            return
        try:
            await asyncio.wait_for(job.changed.wait(), timeout)
        except TimeoutError:
            return
