"""The node supervisor with real processes: restart with backoff, ordered stop, escalation
to SIGKILL, status over its Unix socket, and waiting for a valid configuration."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tandem import rpc
from tandem.config import ClusterConfig, NodeId
from tandem.node import supervisor as sup
from tandem.node.services import ServiceSpec

CONFIG = """
[node1]
hostname = "{me}"
crossover = "192.168.255.1"
external = "10.0.0.11"
[node2]
hostname = "other"
crossover = "192.168.255.2"
external = "10.0.0.12"
"""


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sup, "BACKOFF_FIRST", 0.05)
    monkeypatch.setattr(sup, "CONFIG_RETRY", 0.1)


def make(tmp_path: Path, services: list[ServiceSpec], config: str | None = None) -> sup.Supervisor:
    cfg = tmp_path / "cluster.toml"
    cfg.write_text(CONFIG.format(me=socket.gethostname()) if config is None else config)

    def services_for(_cfg: ClusterConfig, _node: NodeId) -> list[ServiceSpec]:
        return services

    return sup.Supervisor(services_for, cfg, tmp_path / "node.sock", tmp_path / "log")


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def run_with(s: sup.Supervisor, body: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        task = asyncio.create_task(s.run())
        try:
            await body()
        finally:
            s.stop_event.set()
            await asyncio.wait_for(task, 20)

    asyncio.run(main())


def status(s: sup.Supervisor) -> dict[str, Any]:
    return rpc.call(s.socket_path, "status")


def test_restarts_a_dying_service_with_backoff(tmp_path: Path) -> None:
    s = make(tmp_path, [ServiceSpec("flaky", ["sh", "-c", "echo dying; exit 3"])])

    async def body() -> None:
        await until(lambda: bool(s.services) and s.services[0].restarts >= 3)
        info = await asyncio.to_thread(status, s)
        flaky = info["services"][0]
        assert flaky["name"] == "flaky"
        assert flaky["last_exit"] == 3
        assert flaky["restarts"] >= 3
        assert info["node"] == "node1"

    run_with(s, body)
    assert "dying" in (tmp_path / "log" / "flaky.log").read_text()


def test_stops_in_reverse_order_and_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    order = tmp_path / "order"
    services = [
        ServiceSpec("first", ["sh", "-c", f"trap 'echo first >> {order}; exit 0' TERM; "
                                          "while :; do sleep 0.05; done"]),
        ServiceSpec("stubborn", ["sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"],
                    stop_timeout=0.5),
        ServiceSpec("last", ["sh", "-c", f"trap 'echo last >> {order}; exit 0' TERM; "
                                         "while :; do sleep 0.05; done"]),
    ]  # fmt: skip
    s = make(tmp_path, services)

    async def body() -> None:
        await until(lambda: len(s.services) == 3 and all(x.state == "running" for x in s.services))
        await asyncio.sleep(0.2)  # let the shells install their traps

    run_with(s, body)
    assert order.read_text().split() == ["last", "first"]
    assert all(x.state == "stopped" for x in s.services)
    assert s.services[1].last_exit == -9  # SIGKILL after its stop timeout
    assert not s.socket_path.exists()


def test_waits_for_a_valid_configuration(tmp_path: Path) -> None:
    s = make(tmp_path, [], config="[node1]\nhostname = 5\n")

    async def body() -> None:
        await until(lambda: s.waiting_for is not None)
        info = await asyncio.to_thread(status, s)
        assert "node1.hostname" in info["waiting_for"]
        # The operator fixes the file; the supervisor notices without a restart.
        s.config_file.write_text(CONFIG.format(me=socket.gethostname()))
        await until(lambda: s.node == "node1")

    run_with(s, body)


def test_a_host_not_named_in_the_config_is_refused_clearly(tmp_path: Path) -> None:
    s = make(tmp_path, [], config=CONFIG.format(me="somebody-else"))

    async def body() -> None:
        await until(lambda: s.waiting_for is not None)
        assert f"this host is called {socket.gethostname()!r}" in (s.waiting_for or "")

    run_with(s, body)


def test_unknown_request_gets_an_error_not_a_crash(tmp_path: Path) -> None:
    s = make(tmp_path, [])

    async def body() -> None:
        await until(lambda: s.socket_path.exists())
        with pytest.raises(Exception, match="unknown op"):
            await asyncio.to_thread(rpc.call, s.socket_path, "explode")
        raw = await asyncio.to_thread(_raw_request, s.socket_path, b"not json\n")
        assert b"bad request" in raw
        assert (await asyncio.to_thread(status, s))["pid"] > 0

    run_with(s, body)


def _raw_request(path: Path, data: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(path))
        sock.sendall(data)
        return sock.makefile("rb").readline()


def test_restarts_one_service_on_request(tmp_path: Path) -> None:
    """`tandem node restart volume` after a key change: a new process for that service
    only; an unknown name is refused with the services that exist."""
    s = make(
        tmp_path,
        [ServiceSpec("a", ["sleep", "60"], stop_timeout=2), ServiceSpec("b", ["sleep", "60"])],
    )

    async def body() -> None:
        await until(lambda: len(s.services) == 2 and all(x.proc for x in s.services))
        before = {x["name"]: x["pid"] for x in (await asyncio.to_thread(status, s))["services"]}
        info = await asyncio.to_thread(rpc.call, s.socket_path, "restart", 10.0, service="a")
        after = {x["name"]: x for x in info["services"]}
        await until(lambda: s.services[0].proc is not None and s.services[0].state == "running")
        now = {x["name"]: x["pid"] for x in (await asyncio.to_thread(status, s))["services"]}
        assert now["a"] != before["a"] and now["a"] is not None
        assert now["b"] == before["b"]
        assert after["a"]["restarts"] == 1
        with pytest.raises(Exception, match=r"no service .web.*a, b"):
            await asyncio.to_thread(rpc.call, s.socket_path, "restart", 10.0, service="web")

    run_with(s, body)
