"""`tandem node run`: start the node's services, restart one that dies, stop them in
reverse order on shutdown, and answer `tandem node status`.

Each service is its own process so that membership never waits on the data path or on a
slow resource agent (DESIGN). A service that keeps dying is restarted with a growing delay
(1 s doubling to 30 s) so that a broken one does not spin the CPU, and every death is
logged with its exit status and how long it ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tandem import __version__, paths, rpc
from tandem.config import ClusterConfig, InvalidConfig, NodeId, load_config
from tandem.errors import ConfigError, TandemError
from tandem.eventlog import log as events
from tandem.node import power
from tandem.node.services import ServiceSpec, node_services

log = logging.getLogger("tandem.node")

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
STABLE_AFTER = 60.0  # a service that ran this long is healthy again: backoff starts over
CONFIG_RETRY = 5.0


class Service:
    """One supervised process and its history."""

    def __init__(self, spec: ServiceSpec, log_dir: Path | None = None) -> None:
        self.spec = spec
        self.log_dir = log_dir
        self.proc: asyncio.subprocess.Process | None = None
        self.state = "stopped"
        self.restarts = 0
        self.failures = 0  # consecutive short-lived runs, for the backoff
        self.last_exit: int | None = None
        self.since = time.time()
        self.task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()

    def info(self) -> dict[str, Any]:
        return {
            "name": self.spec.name,
            "state": self.state,
            "pid": self.proc.pid if self.proc and self.proc.returncode is None else None,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "since": self.since,
        }

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"service {self.spec.name}")

    async def _run(self) -> None:
        while not self._stopped.is_set():
            started = time.monotonic()
            await self._spawn()
            assert self.proc is not None
            code = await self.proc.wait()
            ran = time.monotonic() - started
            self.last_exit = code
            if self._stopped.is_set():
                break
            self.failures = 0 if ran >= STABLE_AFTER else self.failures + 1
            delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, self.failures - 1))
            self.state, self.since = "backoff", time.time()
            log.warning(
                "service %s died (exit %s) after %.1f s; restarting it in %.0f s",
                self.spec.name,
                code,
                ran,
                delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), delay)
            self.restarts += 0 if self._stopped.is_set() else 1
        self.state, self.since = "stopped", time.time()

    async def _spawn(self) -> None:
        out: int | Any = asyncio.subprocess.DEVNULL
        log_file = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_file = (self.log_dir / f"{self.spec.name}.log").open("ab")
            out = log_file
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.spec.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env={**os.environ, **self.spec.env},
            )
        finally:
            if log_file is not None:
                log_file.close()
        self.state, self.since = "running", time.time()
        log.info("service %s started (pid %s)", self.spec.name, self.proc.pid)

    async def stop(self) -> None:
        self._stopped.set()
        proc = self.proc
        if proc is not None and proc.returncode is None:
            self.state = "stopping"
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), self.spec.stop_timeout)
            except TimeoutError:
                log.warning(
                    "service %s ignored SIGTERM for %.0f s; killing it",
                    self.spec.name,
                    self.spec.stop_timeout,
                )
                proc.kill()
                await proc.wait()
        if self.task is not None:
            await self.task
        log.info("service %s stopped", self.spec.name)


class Supervisor:
    def __init__(
        self,
        services_for: Callable[[ClusterConfig, NodeId], list[ServiceSpec]] = node_services,
        config_file: Path = paths.CONFIG_FILE,
        socket_path: Path = paths.NODE_SOCKET,
        log_dir: Path | None = paths.LOG_DIR,
    ) -> None:
        self.services_for = services_for
        self.config_file = config_file
        self.socket_path = socket_path
        self.log_dir = log_dir
        self.services: list[Service] = []
        self.node: NodeId | None = None
        self.waiting_for: str | None = None
        self.started = time.time()
        self.stop_event = asyncio.Event()

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("op") == "status":
            return self.status()
        if request.get("op") == "restart":
            return await self.restart(str(request.get("service")))
        if request.get("op") == "power":
            return self.power(str(request.get("action")))
        raise TandemError(
            f"unknown op {request.get('op')!r}; the supervisor knows: status, restart, power"
        )

    def power(self, action: str) -> dict[str, Any]:
        """Has init power the machine off or restart it, a moment after answering (init
        then stops this supervisor with SIGTERM, and the services in reverse order)."""
        sig = power.signal_init(action)
        node = self.node or socket.gethostname()
        sentence = f"{node} {power.VERBS[action]} now, on the operator's request"
        log.info("%s: telling init (pid 1)", sentence)
        events.record(node, "node", sentence, details={"action": action})
        asyncio.get_running_loop().call_later(0.2, os.kill, 1, sig)
        return {"node": self.node, "action": action}

    async def restart(self, name: str) -> dict[str, Any]:
        """Stop one service and start it again (a changed key or configuration that the
        daemon reads only at start); the others keep running."""
        for i, service in enumerate(self.services):
            if service.spec.name == name:
                await service.stop()
                fresh = Service(service.spec, self.log_dir)
                fresh.restarts = service.restarts + 1
                self.services[i] = fresh
                fresh.start()
                log.info("service %s restarted on request", name)
                for _ in range(100):  # answer with the new process's pid
                    if fresh.proc is not None:
                        break
                    await asyncio.sleep(0.01)
                return self.status()
        names = ", ".join(s.spec.name for s in self.services) or "none yet"
        raise TandemError(f"no service {name!r} on this node; it runs: {names}")

    def status(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "hostname": socket.gethostname(),
            "version": __version__,
            "pid": os.getpid(),
            "started": self.started,
            "waiting_for": self.waiting_for,
            "services": [s.info() for s in self.services],
        }

    async def _load(self) -> tuple[ClusterConfig, NodeId] | None:
        """Wait for a valid configuration that names this host; an operator may be fixing it."""
        last = None
        while not self.stop_event.is_set():
            try:
                cfg = load_config(self.config_file)
                hostname = socket.gethostname()
                node = cfg.node_by_hostname(hostname)
                if node is None:
                    raise ConfigError(
                        f"this host is called {hostname!r}, but {self.config_file} names "
                        f"node1 {cfg.node1.hostname!r} and node2 {cfg.node2.hostname!r}"
                    )
                self.waiting_for = None
                return cfg, node
            except (InvalidConfig, ConfigError) as exc:
                reason = str(exc).replace("\n", "; ")
                self.waiting_for = f"a valid configuration: {reason}"
                if reason != last:
                    log.error(
                        "cannot start the node's services: %s; checking again every %.0f s",
                        reason,
                        CONFIG_RETRY,
                    )
                    last = reason
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), CONFIG_RETRY)
        return None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop_event.set)
        server = await rpc.serve(self.socket_path, self.handle)
        log.info("supervisor %s up (pid %s)", __version__, os.getpid())
        try:
            loaded = await self._load()
            if loaded is not None:
                self.node = loaded[1]
                self.services = [Service(s, self.log_dir) for s in self.services_for(*loaded)]
                log.info(
                    "this is %s; starting %s",
                    self.node,
                    ", ".join(s.spec.name for s in self.services) or "no services yet",
                )
                for service in self.services:
                    service.start()
                await self.stop_event.wait()
            log.info("stopping")
            for service in reversed(self.services):
                await service.stop()
        finally:
            server.close()
            await server.wait_closed()
            self.socket_path.unlink(missing_ok=True)
        log.info("supervisor down")
