"""Two real web servers (`tandem web run`, real HTTPS) on loopback addresses, one per
node, each with its own /etc/tandem as an operator installs it: one `tandem init`, copied.

node1 is 127.0.1.11 (external) / 127.0.2.1 (crossover), node2 127.0.1.12 / 127.0.2.2:
addresses of this machine only, so the node-to-node protocol runs for real without a lab.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import tandem

PASSWORD = "correct horse battery"
ADDRESSES = {
    "node1": {"external": "127.0.1.11", "crossover": "127.0.2.1"},
    "node2": {"external": "127.0.1.12", "crossover": "127.0.2.2"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def install(root: Path, port: int) -> dict[str, Path]:
    """`tandem init` once, copied to both nodes, as docs/operations.md says."""
    installer = root / "install"
    result = tandem(
        "init", "--dir", str(installer),
        "--node1-external", ADDRESSES["node1"]["external"],
        "--node2-external", ADDRESSES["node2"]["external"],
        "--node1-crossover", ADDRESSES["node1"]["crossover"],
        "--node2-crossover", ADDRESSES["node2"]["crossover"],
        "--gateway", "127.0.1.1", "--web-port", str(port),
        env={"TANDEM_ADMIN_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    etcs = {}
    for node in ADDRESSES:
        etcs[node] = root / node / "etc"
        shutil.copytree(installer, etcs[node])
    return etcs


@dataclass
class Node:
    """One node's web process and an operator's browser session with it."""

    name: str
    root: Path
    etc: Path
    port: int
    vz: Path | None = None  # the containers' filesystem; default: an unmounted scratch folder
    proc: subprocess.Popen[bytes] | None = None
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = self.new_client()
        if self.vz is None:
            self.vz = self.root / self.name / "vz"  # never this machine's /vz

    @property
    def url(self) -> str:
        return f"https://{ADDRESSES[self.name]['external']}:{self.port}"

    @property
    def cert(self) -> str:
        return str(self.etc / "secrets" / "tls.crt")

    @property
    def state(self) -> Path:
        return self.root / self.name / "state"

    @property
    def run(self) -> Path:
        return self.root / self.name / "run"

    def new_client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, verify=ssl.create_default_context(cafile=self.cert), timeout=30
        )

    def start(self) -> None:
        log = (self.root / f"{self.name}.log").open("ab")
        binds = [f"{a}:{self.port}" for a in ADDRESSES[self.name].values()]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tandem.web", "run", "--etc", str(self.etc),
             "--state", str(self.state), "--run", str(self.run), "--node", self.name,
             "--vz", str(self.vz), *[arg for b in binds for arg in ("--bind", b)]],
            stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.root / f"{self.name}.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if self.client.get("/api/session").status_code == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not start: {self.log()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None

    def log(self) -> str:
        path = self.root / f"{self.name}.log"
        return path.read_text() if path.exists() else ""

    def csrf(self) -> str:
        return str(self.client.get("/api/session").json()["csrf"])

    def login(self, password: str = PASSWORD, user: str = "admin") -> httpx.Response:
        return self.client.post(
            "/api/login",
            json={"user": user, "password": password},
            headers={"X-CSRF-Token": self.csrf()},
        )

    def send(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.client.request(method, path, json=body, headers={"X-CSRF-Token": self.csrf()})


@contextlib.contextmanager
def running_cluster(root: Path, vz: dict[str, Path] | None = None) -> Iterator[dict[str, Node]]:
    """Both nodes running and logged in; stopped afterwards even when a test fails."""
    port = free_port()
    etcs = install(root, port)
    nodes = {name: Node(name, root, etcs[name], port, (vz or {}).get(name)) for name in ADDRESSES}
    try:
        for node in nodes.values():
            node.start()
        for node in nodes.values():
            assert node.login().status_code == 200
            # Tests read English messages; the choice is remembered in the client's cookie.
            assert node.send("PUT", "/api/session/language", {"language": "en"}).status_code == 200
        yield nodes
    finally:
        for node in nodes.values():
            node.stop()
            node.client.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Node]]:
    """Shared by a module's tests that leave both nodes up and as they found them."""
    with running_cluster(tmp_path_factory.mktemp("cluster")) as nodes:
        yield nodes


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[dict[str, Node]]:
    """For a test that stops nodes or changes what others rely on."""
    with running_cluster(tmp_path) as nodes:
        yield nodes


def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(interval)


def log_in_in_english(client: Any) -> None:
    """An in-process TestClient as a logged-in operator who reads English, with the
    session's CSRF token on every request."""
    client.headers["X-CSRF-Token"] = client.get("/api/session").json()["csrf"]
    reply = client.post("/api/login", json={"user": "admin", "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    client.headers["X-CSRF-Token"] = client.get("/api/session").json()["csrf"]
    assert client.put("/api/session/language", json={"language": "en"}).status_code == 200
