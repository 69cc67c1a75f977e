"""The lab keeper: one small daemon per lab that plays the hardware.

It owns what a real cluster's hardware would: the power of each machine (start it as a
fresh PID/network/mount/UTS namespace, kill it at once), the serial null-modem cable
(a relay between two pseudo-terminals that can be cut and healed without the ports being
reopened), and helper processes that stand for other hardware, such as each node's disk
(tandem.lab.disk): they run in the host's namespaces, so a crash of a node leaves them be.
It is the parent of every machine and helper, so it reaps them: this host's PID 1 does not
reap orphans, and a crashed node must not linger as a zombie.

The network is wired by the `tandem lab` command (with `ip`), not here: the keeper stays a
dumb power switch and cable, and talks JSON lines on a Unix socket.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import termios
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("tandem.lab.keeper")

PR_SET_CHILD_SUBREAPER = 36
READY_TIMEOUT = 15.0
UNSHARE = [
    "unshare",
    "--pid",
    "--net",
    "--mount",
    "--uts",
    "--ipc",
    "--fork",
    "--kill-child",
    "--propagation",
    "private",
]


@dataclass
class Machine:
    name: str
    launcher: int  # the `unshare` process, our child
    pid: int | None = None  # the machine's PID 1, as seen from the host
    go_fd: int | None = None
    started: float = field(default_factory=time.time)
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    status: int | None = None


@dataclass
class Helper:
    """A process that plays a piece of hardware (a node's disk), started on request."""

    name: str
    pid: int
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    status: int | None = None


class SerialLine:
    """Two ptys joined by a relay; bytes towards a cut line or a powered-off node vanish."""

    def __init__(self, ends: tuple[str, str]) -> None:
        self.ends = ends
        self.masters: dict[str, int] = {}
        self.slaves: dict[str, int] = {}
        self.paths: dict[str, str] = {}
        self.cut = False
        self.powered: set[str] = set()
        self.relayed = 0
        self.dropped = 0
        for end in ends:
            master, slave = os.openpty()
            tty.setraw(slave)  # no echo, no line editing: a null-modem carries bytes
            os.set_blocking(master, False)
            self.masters[end], self.slaves[end] = master, slave
            self.paths[end] = os.ttyname(slave)

    def other(self, end: str) -> str:
        return self.ends[1] if end == self.ends[0] else self.ends[0]

    def pump(self, src: str) -> None:
        try:
            data = os.read(self.masters[src], 65536)
        except (BlockingIOError, OSError):
            return
        dst = self.other(src)
        if self.cut or dst not in self.powered or src not in self.powered:
            self.dropped += len(data)
            return
        try:
            self.relayed += os.write(self.masters[dst], data)
        except (BlockingIOError, OSError):
            self.dropped += len(data)  # nobody reads on the far side: the bytes are lost

    def power(self, end: str, on: bool) -> None:
        if on:
            # A machine that was off heard nothing; stale bytes must not greet it.
            termios.tcflush(self.slaves[end], termios.TCIFLUSH)
            self.powered.add(end)
        else:
            self.powered.discard(end)

    def close(self) -> None:
        for fd in [*self.masters.values(), *self.slaves.values()]:
            with contextlib.suppress(OSError):
                os.close(fd)


class Keeper:
    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self.machines: dict[str, Machine] = {}
        self.helpers: dict[str, Helper] = {}
        self.serial = SerialLine(("node1", "node2"))
        self.stopping = asyncio.Event()

    # --- child processes -------------------------------------------------------------

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            for m in self.machines.values():
                if m.launcher == pid and not m.exited.is_set():
                    m.status = os.waitstatus_to_exitcode(status)
                    m.exited.set()
                    if m.name in self.serial.ends:
                        self.serial.power(m.name, False)
                    log.info("machine %s is off (exit %s)", m.name, m.status)
            for h in self.helpers.values():
                if h.pid == pid and not h.exited.is_set():
                    h.status = os.waitstatus_to_exitcode(status)
                    h.exited.set()
                    log.info("helper %s stopped (exit %s)", h.name, h.status)

    async def spawn(self, name: str, argv: list[str]) -> dict[str, Any]:
        current = self.machines.get(name)
        if current is not None and not current.exited.is_set():
            raise KeeperError(f"{name} is running already (pid {current.pid})")
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        os.set_inheritable(ready_w, True)
        os.set_inheritable(go_r, True)
        full = [*UNSHARE, *argv, "--ready-fd", str(ready_w), "--go-fd", str(go_r)]
        try:
            launcher = os.posix_spawnp(UNSHARE[0], full, dict(os.environ))
        finally:
            os.close(ready_w)
            os.close(go_r)
        machine = Machine(name, launcher, go_fd=go_w)
        self.machines[name] = machine
        try:
            line = await asyncio.wait_for(self._read_line(ready_r), READY_TIMEOUT)
        except TimeoutError:
            line = ""
        finally:
            os.close(ready_r)
        if not line.startswith("ready "):
            with contextlib.suppress(ProcessLookupError):
                os.kill(launcher, signal.SIGKILL)
            await self._wait_exit(machine, 5.0)
            raise KeeperError(f"{name} did not come up (init said {line.strip()!r}); see its log")
        machine.pid = int(line.split()[1])
        if name in self.serial.ends:
            self.serial.power(name, True)
        log.info("machine %s is on (pid %s)", name, machine.pid)
        return {"pid": machine.pid, "launcher": launcher}

    async def _read_line(self, fd: int) -> str:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[str] = loop.create_future()
        buf = bytearray()

        def readable() -> None:
            chunk = os.read(fd, 256)
            buf.extend(chunk)
            if (not chunk or b"\n" in buf) and not done.done():
                loop.remove_reader(fd)
                done.set_result(buf.decode(errors="replace"))

        loop.add_reader(fd, readable)
        try:
            return await done
        finally:
            loop.remove_reader(fd)

    def release(self, name: str) -> None:
        machine = self._running(name)
        if machine.go_fd is not None:
            os.write(machine.go_fd, b"go")
            os.close(machine.go_fd)
            machine.go_fd = None

    async def kill(self, name: str, sig: int, timeout: float) -> dict[str, Any]:
        machine = self._running(name)
        started = time.monotonic()
        if machine.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(machine.pid, sig)
        if not await self._wait_exit(machine, timeout) and sig != signal.SIGKILL:
            log.info("machine %s did not stop within %.0f s; killing it", name, timeout)
            if machine.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(machine.pid, signal.SIGKILL)
            await self._wait_exit(machine, 10.0)
        if not machine.exited.is_set():
            raise KeeperError(f"{name} (pid {machine.pid}) did not die; the kernel is stuck")
        if machine.go_fd is not None:
            os.close(machine.go_fd)
            machine.go_fd = None
        return {"seconds": round(time.monotonic() - started, 3)}

    def start_helper(self, name: str, argv: list[str], log_path: str) -> dict[str, Any]:
        current = self.helpers.get(name)
        if current is not None and not current.exited.is_set():
            raise KeeperError(f"{name} is running already (pid {current.pid})")
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null_fd = os.open(os.devnull, os.O_RDONLY)
        try:
            pid = os.posix_spawn(
                argv[0],
                argv,
                dict(os.environ),
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, null_fd, 0),
                    (os.POSIX_SPAWN_DUP2, log_fd, 1),
                    (os.POSIX_SPAWN_DUP2, log_fd, 2),
                ],
            )
        finally:
            os.close(log_fd)
            os.close(null_fd)
        self.helpers[name] = Helper(name, pid)
        log.info("helper %s started (pid %s)", name, pid)
        return {"pid": pid}

    async def stop_helper(self, name: str, timeout: float) -> dict[str, Any]:
        """SIGTERM, then SIGKILL after `timeout`; a helper that is gone already is fine."""
        helper = self.helpers.get(name)
        if helper is None or helper.exited.is_set():
            return {}
        with contextlib.suppress(ProcessLookupError):
            os.kill(helper.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(helper.exited.wait(), timeout)
        if not helper.exited.is_set():
            with contextlib.suppress(ProcessLookupError):
                os.kill(helper.pid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(helper.exited.wait(), 10.0)
        return {}

    async def _wait_exit(self, machine: Machine, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(machine.exited.wait(), timeout)
        return machine.exited.is_set()

    def _running(self, name: str) -> Machine:
        machine = self.machines.get(name)
        if machine is None or machine.exited.is_set():
            raise KeeperError(f"{name} is off")
        return machine

    def status(self) -> dict[str, Any]:
        return {
            "keeper": os.getpid(),
            "machines": {
                m.name: {
                    "state": "off" if m.exited.is_set() else "on",
                    "pid": None if m.exited.is_set() else m.pid,
                    "launcher": m.launcher,
                    "started": m.started,
                    "exit": m.status,
                }
                for m in self.machines.values()
            },
            "helpers": {
                h.name: {"state": "off" if h.exited.is_set() else "on", "pid": h.pid}
                for h in self.helpers.values()
            },
            "serial": {
                "cut": self.serial.cut,
                "ptys": self.serial.paths,
                "relayed": self.serial.relayed,
                "dropped": self.serial.dropped,
            },
        }

    async def shutdown(self, timeout: float) -> None:
        running = [m.name for m in self.machines.values() if not m.exited.is_set()]
        await asyncio.gather(
            *(self.kill(n, signal.SIGTERM, timeout) for n in running), return_exceptions=True
        )
        # The hardware goes after the machines that use it.
        await asyncio.gather(*(self.stop_helper(n, timeout) for n in self.helpers))
        self.stopping.set()

    # --- control socket --------------------------------------------------------------

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    request = json.loads(line)
                    result = await self.dispatch(request)
                    reply: dict[str, Any] = {"ok": True, **result}
                except KeeperError as exc:
                    reply = {"ok": False, "error": str(exc)}
                except (ValueError, KeyError, TypeError) as exc:
                    reply = {"ok": False, "error": f"bad request: {exc!r}"}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        finally:
            writer.close()

    async def dispatch(self, request: dict[str, Any]) -> dict[str, Any]:  # noqa: PLR0911
        op = request["op"]
        if op == "status":
            return self.status()
        if op == "spawn":
            return await self.spawn(request["machine"], list(request["argv"]))
        if op == "release":
            self.release(request["machine"])
            return {}
        if op == "kill":
            sig = signal.SIGKILL if request.get("hard", True) else signal.SIGTERM
            return await self.kill(request["machine"], sig, float(request.get("timeout", 10)))
        if op == "start":
            return self.start_helper(request["name"], list(request["argv"]), request["log"])
        if op == "stop":
            return await self.stop_helper(request["name"], float(request.get("timeout", 5)))
        if op == "serial":
            self.serial.cut = bool(request["cut"])
            return {"cut": self.serial.cut}
        if op == "shutdown":
            await self.shutdown(float(request.get("timeout", 5)))
            return {}
        raise KeeperError(f"unknown op {op!r}")

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGCHLD, self.reap)
        loop.add_signal_handler(signal.SIGTERM, lambda: loop.create_task(self.shutdown(5)))
        for end in self.serial.ends:
            loop.add_reader(self.serial.masters[end], self.serial.pump, end)
        self.socket_path.unlink(missing_ok=True)
        server = await asyncio.start_unix_server(self.handle, path=str(self.socket_path))
        log.info("keeper up (pid %s), serial ptys %s", os.getpid(), self.serial.paths)
        async with server:
            await self.stopping.wait()
            await asyncio.sleep(0.05)  # let the shutdown reply reach the client
        self.socket_path.unlink(missing_ok=True)
        self.serial.close()
        log.info("keeper down")


class KeeperError(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description="tandem lab keeper (started by `tandem lab up`)")
    parser.add_argument("--socket", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s keeper: %(message)s")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    asyncio.run(Keeper(args.socket).run())


if __name__ == "__main__":
    main()
