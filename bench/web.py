"""Status page latency under load (issue 7): p95 under 100 ms with 20 concurrent clients.

Starts two real web servers (`python -m tandem.web run`, real HTTPS) on loopback
addresses, as tests/web does, logs 20 browsers in, and has each fetch the Status page
back to back for a fixed number of requests. The baseline, taken in the same run under the
same load, is GET /api/session: the cheapest route behind the same TLS, session and guard.
Prints p50/p95/p99/max for both and the ratio of the p95s.

    uv run python bench/web.py [--clients 20] [--requests 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

PASSWORD = "bench password 1"
NODES = {
    "node1": ("127.0.1.11", "127.0.2.1"),
    "node2": ("127.0.1.12", "127.0.2.2"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def install(root: Path, port: int) -> dict[str, Path]:
    installer = root / "install"
    subprocess.run(
        [sys.executable, "-m", "tandem", "init", "--dir", str(installer),
         "--node1-external", NODES["node1"][0], "--node2-external", NODES["node2"][0],
         "--node1-crossover", NODES["node1"][1], "--node2-crossover", NODES["node2"][1],
         "--gateway", "127.0.1.1", "--web-port", str(port)],
        check=True, capture_output=True, env={**os.environ, "TANDEM_ADMIN_PASSWORD": PASSWORD},
    )  # fmt: skip
    etcs = {}
    for node in NODES:
        etcs[node] = root / node / "etc"
        shutil.copytree(installer, etcs[node])
    return etcs


def start(root: Path, node: str, etc: Path, port: int) -> subprocess.Popen[bytes]:
    log = (root / f"{node}.log").open("ab")
    binds = [arg for a in NODES[node] for arg in ("--bind", f"{a}:{port}")]
    return subprocess.Popen(
        [sys.executable, "-m", "tandem.web", "run", "--etc", str(etc),
         "--state", str(root / node / "state"), "--run", str(root / node / "run"),
         "--node", node, *binds],
        stdout=log, stderr=log, start_new_session=True,
    )  # fmt: skip


async def wait_serving(url: str, context: ssl.SSLContext) -> None:
    async with httpx.AsyncClient(verify=context) as client:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url + "/api/session")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise SystemExit(f"{url} did not start")


async def browser(url: str, context: ssl.SSLContext) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, verify=context, timeout=30)
    token = (await client.get("/api/session")).json()["csrf"]
    reply = await client.post("/api/login", json={"user": "admin", "password": PASSWORD},
                              headers={"X-CSRF-Token": token})  # fmt: skip
    reply.raise_for_status()
    return client


async def load(clients: list[httpx.AsyncClient], path: str, requests: int) -> list[float]:
    latencies: list[float] = []

    async def one(client: httpx.AsyncClient) -> None:
        for _ in range(requests):
            started = time.perf_counter()
            reply = await client.get(path)
            latencies.append(time.perf_counter() - started)
            assert reply.status_code == 200, reply.status_code

    started = time.perf_counter()
    await asyncio.gather(*(one(c) for c in clients))
    elapsed = time.perf_counter() - started
    print(f"  {path:14} {len(latencies)} requests in {elapsed:.1f} s "
          f"({len(latencies) / elapsed:.0f}/s)")  # fmt: skip
    return latencies


def summary(name: str, latencies: list[float]) -> float:
    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=100)
    print(f"  {name:14} p50 {q[49]:6.1f} ms  p95 {q[94]:6.1f} ms  p99 {q[98]:6.1f} ms  "
          f"max {ms[-1]:6.1f} ms")  # fmt: skip
    return q[94]


async def bench(url: str, cert: Path, clients: int, requests: int) -> float:
    context = ssl.create_default_context(cafile=str(cert))
    await wait_serving(url, context)
    browsers = [await browser(url, context) for _ in range(clients)]
    try:
        await load(browsers, "/status", 5)  # warm up: TLS sessions, template cache
        status = await load(browsers, "/status", requests)
        baseline = await load(browsers, "/api/session", requests)
    finally:
        for b in browsers:
            await b.aclose()
    print(f"{clients} concurrent clients, {requests} requests each, TLS, one web process:")
    p95 = summary("Status page", status)
    base = summary("/api/session", baseline)
    print(f"  ratio Status p95 / baseline p95: {p95 / base:.2f}")
    verdict = "PASS" if p95 < 100 else "FAIL"
    print(f"Status page p95 {p95:.1f} ms (limit 100 ms): {verdict}")
    return p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tandem-bench-web-"))
    procs = []
    try:
        port = free_port()
        etcs = install(root, port)
        procs = [start(root, node, etcs[node], port) for node in NODES]
        url = f"https://{NODES['node1'][0]}:{port}"
        p95 = asyncio.run(bench(url, etcs["node1"] / "secrets" / "tls.crt", args.clients,
                                args.requests))  # fmt: skip
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)
    raise SystemExit(0 if p95 < 100 else 1)


if __name__ == "__main__":
    main()
