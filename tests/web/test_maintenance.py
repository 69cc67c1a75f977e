"""The Maintenance page's configuration bundle, maintenance mode and remote support (OP-1,
OP-7, seed 5.6.3 and 7.2), through the JSON API and on the page, in-process.

The HA loop is a stand-in on its Unix socket that records what it is asked (the real loop
answers the same way in the lab); remote support runs the real support daemon below a
scratch root, with a stand-in `ssh` on PATH, so nothing reaches this machine's tunnel.
"""

from __future__ import annotations

import io
import os
import re
import socket
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from tandem.bundle.content import collect, unpack
from tandem.bundle.tarball import BundleRefused
from tandem.config import load_config, validate_config
from tandem.config.write import render_config
from tandem.errors import TandemError
from tandem.rootdir import Root
from tandem.support import control
from tandem.web.app import create_app
from tandem.web.settings import WebSettings
from tests.web.conftest import free_port, install, log_in_in_english
from tests.web.standin import StandIn

PASSPHRASE = "a passphrase for the test"


class Loop(StandIn):
    """A stand-in for this node's HA loop on its socket: it keeps the maintenance mode as
    the real one does (crm/daemon.py handle) and records every request."""

    def __init__(self, path: Path, refuse: str | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.maintenance = False

        async def handle(request: dict[str, Any]) -> dict[str, Any]:
            self.requests.append(request)
            if request.get("op") == "maintenance":
                if refuse is not None:
                    raise TandemError(refuse)
                self.maintenance = bool(request["on"])
            return {"group": "running", "active": True, "maintenance": self.maintenance}

        super().__init__(path, handle)


def support_root(root: Path, etc: Path, host: str | None) -> Path:
    """A scratch root for the support daemon: this node's configuration, with this
    machine's host name for node1 (the daemon finds its node by host name) and the
    support host given, or none."""
    data = load_config(etc / "cluster.toml").model_dump(mode="json")
    data["node1"]["hostname"] = socket.gethostname()
    data["support"]["host"] = host
    config = Root(root).config
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(render_config(validate_config(data)))
    return root


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("maintenance")
    etc = install(root, free_port())["node1"]
    return {"root": root, "etc": etc, "run": root / "run"}


@pytest.fixture(scope="module")
def make_client(setup: dict[str, Path]) -> Iterator[Callable[[Path], TestClient]]:
    """A logged-in operator's client (English) of an app with the given support root."""
    opened: list[TestClient] = []

    def make(support: Path) -> TestClient:
        settings = WebSettings(
            etc_dir=setup["etc"], state_dir=setup["root"] / "state", run_dir=setup["run"],
            node="node1", peer_timeout=0.2, support_root=support, support_wait=15.0,
        )  # fmt: skip
        app: FastAPI = create_app(settings, background=False)
        client = TestClient(app, base_url="https://testserver")
        client.__enter__()
        opened.append(client)
        log_in_in_english(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def client(setup: dict[str, Path], make_client: Callable[[Path], TestClient]) -> TestClient:
    """Support not configured: the configuration has no support host."""
    return make_client(support_root(setup["root"] / "unconfigured", setup["etc"], None))


def tree(root: Path) -> set[Path]:
    return set(root.rglob("*"))


# --- the configuration bundle (OP-1) ---------------------------------------------------


def test_the_bundle_without_passphrase_is_a_plain_tar_of_this_nodes_files(
    client: TestClient, setup: dict[str, Path]
) -> None:
    etc = setup["etc"]
    before = tree(setup["root"])
    reply = client.post("/api/config/bundle", json={"passphrase": "", "repeat": ""})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/x-tar"
    assert "no-store" in reply.headers["cache-control"]
    name = re.fullmatch(r"attachment; filename=(tandem_(\w+)_\d{8}_\d{6}\.tar)",
                        reply.headers["content-disposition"])  # fmt: skip
    assert name is not None, reply.headers["content-disposition"]
    assert name.group(2) == load_config(etc / "cluster.toml").cluster.name
    with tarfile.open(fileobj=io.BytesIO(reply.content)) as tar:
        names = tar.getnames()
        config = tar.extractfile("etc/tandem/cluster.toml")
        assert config is not None and config.read() == (etc / "cluster.toml").read_bytes()
    assert "manifest.json" in names and "etc/tandem/secrets/cluster.key" in names
    bundle = unpack(reply.content, None)
    assert not bundle.encrypted
    assert bundle.files == collect(etc)
    # Packed in memory: the download left no file on the server.
    assert tree(setup["root"]) == before
    assert not list(Path(setup["root"]).rglob("tandem_*.tar"))


def test_the_bundle_with_a_passphrase_is_encrypted(
    client: TestClient, setup: dict[str, Path]
) -> None:
    etc = setup["etc"]
    reply = client.post("/api/config/bundle", json={"passphrase": PASSPHRASE,
                                                    "repeat": PASSPHRASE})  # fmt: skip
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-disposition"].startswith("attachment; filename=tandem_")
    data = reply.content
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getnames() == ["encryption.json", "payload.bin"]  # not the plain files
    assert (etc / "secrets" / "cluster.key").read_bytes() not in data
    assert b"[cluster]" not in data
    with pytest.raises(BundleRefused, match="encrypted"):
        unpack(data, None)
    with pytest.raises(BundleRefused):
        unpack(data, "not the passphrase")
    bundle = unpack(data, PASSPHRASE)
    assert bundle.encrypted
    assert bundle.files == collect(etc)


def test_differing_passphrases_are_refused_beside_the_field(client: TestClient) -> None:
    reply = client.post("/api/config/bundle", json={"passphrase": PASSPHRASE,
                                                    "repeat": PASSPHRASE + "!"})  # fmt: skip
    assert reply.status_code == 422
    assert "content-disposition" not in reply.headers
    body = reply.json()
    assert [e["field"] for e in body["errors"]] == ["repeat"]
    assert "differ" in body["errors"][0]["message"]
    assert "Nothing was downloaded" in body["message"]
    short = client.post("/api/config/bundle", json={"passphrase": "short", "repeat": "short"})
    assert short.status_code == 422 and "content-disposition" not in short.headers
    assert [e["field"] for e in short.json()["errors"]] == ["passphrase"]
    assert "at least 8" in short.json()["errors"][0]["message"]
    # A passphrase given only once is a difference too, not a plain bundle.
    once = client.post("/api/config/bundle", json={"passphrase": PASSPHRASE})
    assert once.status_code == 422 and once.json()["errors"][0]["field"] == "repeat"


def test_the_page_offers_the_bundle_and_says_it_holds_secrets(client: TestClient) -> None:
    page = client.get("/maintenance").text
    form = page.split('id="bundle"', 1)[1].split("</section>", 1)[0]
    assert 'data-api="/api/config/bundle"' in form and "data-download" in form
    assert 'name="passphrase"' in form and 'name="repeat"' in form
    assert "The file contains the cluster&#39;s secrets." in form


# --- maintenance mode of the HA loop ----------------------------------------------------


def section(page: str, anchor: str) -> str:
    return page.split(f'id="{anchor}"', 1)[1].split("</section>", 1)[0]


def test_maintenance_mode_on_and_off_asks_the_ha_loop(
    client: TestClient, setup: dict[str, Path]
) -> None:
    loop = Loop(setup["run"] / "crm.sock")
    try:
        shown = section(client.get("/maintenance").text, "maintenance-mode")
        assert 'data-maintenance="off"' in shown and "Switch maintenance mode on" in shown
        assert "Pacemaker" in shown and "starts, stops and moves nothing" in shown

        on = client.put("/api/maintenance-mode", json={"on": True})
        assert on.status_code == 200, on.text
        assert loop.requests[-1] == {"op": "maintenance", "on": True}
        assert on.json()["on"] is True
        assert "node1 watches but starts, stops and moves nothing" in on.json()["message"]
        shown = section(client.get("/maintenance").text, "maintenance-mode")
        assert 'data-maintenance="on"' in shown and "Switch maintenance mode off" in shown
        assert client.get("/api/maintenance-mode").json() == {
            "available": True, "on": True, "reason": None,
        }  # fmt: skip

        off = client.put("/api/maintenance-mode", json={"on": False})
        assert off.status_code == 200, off.text
        assert loop.requests[-1] == {"op": "maintenance", "on": False}
        assert off.json()["on"] is False and "acts again" in off.json()["message"]
        assert 'data-maintenance="off"' in client.get("/maintenance").text
    finally:
        loop.close()


def test_an_ha_loop_that_does_not_answer_gives_409_with_what_to_do(
    client: TestClient, setup: dict[str, Path]
) -> None:
    sock = setup["run"] / "crm.sock"
    assert not sock.exists()
    reply = client.put("/api/maintenance-mode", json={"on": True})
    assert reply.status_code == 409
    message = reply.json()["message"]
    assert "not changed" in message and "does not answer" in message
    assert str(sock) in message and "tandem node status" in message
    assert client.get("/api/maintenance-mode").json()["available"] is False
    shown = section(client.get("/maintenance").text, "maintenance-mode")
    assert 'data-maintenance="unknown"' in shown and "tandem node status" in shown
    assert "Switch maintenance mode" not in shown


def test_a_refusal_of_the_ha_loop_gives_409_with_its_reason(
    client: TestClient, setup: dict[str, Path]
) -> None:
    loop = Loop(setup["run"] / "crm.sock", refuse="the HA loop is still starting")
    try:
        reply = client.put("/api/maintenance-mode", json={"on": True})
        assert reply.status_code == 409
        assert "the HA loop is still starting" in reply.json()["message"]
        assert loop.requests[-1] == {"op": "maintenance", "on": True}
    finally:
        loop.close()


# --- remote support (OP-7) --------------------------------------------------------------


def test_support_not_configured_is_shown_as_such(client: TestClient) -> None:
    support: Path = client.app.state.web.settings.support_root  # type: ignore[attr-defined]
    info = client.get("/api/support").json()
    assert info["configured"] is False and info["on"] is False and "problem" not in info
    shown = section(client.get("/maintenance").text, "support")
    assert 'data-support="not-configured"' in shown and "not configured" in shown
    assert "[support] host" in shown and str(Root(support).config) in shown
    assert "Switch remote support" not in shown

    reply = client.put("/api/support", json={"on": True})
    assert reply.status_code == 409
    assert "not configured" in reply.json()["message"]
    assert "[support] host" in reply.json()["message"]
    assert not (Root(support).run / "support.pid").exists()  # no daemon was started
    assert not (Root(support).secrets / "support_ed25519").exists()  # and no key made

    off = client.put("/api/support", json={"on": False})
    assert off.status_code == 200 and off.json()["message"] == "Remote support was not on."


@pytest.fixture
def stand_in_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An `ssh` that reports the remote forward as ssh -v does, then stays until ended."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    ssh = bindir / "ssh"
    ssh.write_text("#!/bin/sh\necho 'debug1: remote forward success for: listen 20022, "
                   "connect 127.0.0.1:22' >&2\nexec sleep 600\n")  # fmt: skip
    ssh.chmod(0o755)
    # The web starts the daemon, which starts ssh: both inherit this process's PATH.
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")


def test_support_on_and_off_runs_the_support_daemon(
    setup: dict[str, Path],
    make_client: Callable[[Path], TestClient],
    tmp_path: Path,
    stand_in_ssh: None,
) -> None:
    support = support_root(tmp_path / "support", setup["etc"], "support.example.com")
    client = make_client(support)
    try:
        info = client.get("/api/support").json()
        assert info["configured"] is True and info["on"] is False
        assert info["host"] == "support.example.com" and info["remote_port"] > 0
        shown = section(client.get("/maintenance").text, "support")
        assert 'data-support="off"' in shown and "Switch remote support on" in shown

        on = client.put("/api/support", json={"on": True})
        assert on.status_code == 200, on.text
        assert on.json()["state"] == "up", on.json()
        assert "the tunnel to support.example.com is up" in on.json()["message"]
        pid = on.json()["pid"]
        assert control.daemon_pid(Root(support)) == pid
        shown = section(client.get("/maintenance").text, "support")
        assert 'data-support="up"' in shown and "Switch remote support off" in shown
        assert "ssh-ed25519 " in shown  # the support key for the support host

        off = client.put("/api/support", json={"on": False})
        assert off.status_code == 200, off.text
        assert off.json()["message"] == "Remote support is off: the tunnel is closed."
        assert control.daemon_pid(Root(support)) is None
        assert 'data-support="off"' in client.get("/maintenance").text
    finally:
        control.switch_off(Root(support))


# --- both languages and the description -------------------------------------------------


def test_the_page_and_the_refusals_speak_german(client: TestClient) -> None:
    assert client.put("/api/session/language", json={"language": "de"}).status_code == 200
    try:
        page = client.get("/maintenance").text
        for words in ("Wartungsmodus", "Fernwartung", "nicht eingerichtet",
                      "Konfigurationsbündel", "Die Datei enthält die Geheimnisse des Clusters.",
                      "Bündel herunterladen"):  # fmt: skip
            assert words in page, words
        reply = client.post("/api/config/bundle", json={"passphrase": PASSPHRASE,
                                                        "repeat": "other passphrase"})  # fmt: skip
        assert reply.json()["errors"][0]["message"] == "Die beiden Passphrasen sind verschieden."
        refused = client.put("/api/maintenance-mode", json={"on": True})
        assert refused.status_code == 409
        assert refused.json()["message"].startswith("Der Wartungsmodus wurde nicht geändert")
    finally:
        client.put("/api/session/language", json={"language": "en"})


def test_the_routes_are_described(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    assert set(paths["/api/maintenance-mode"]) == {"get", "put"}
    assert set(paths["/api/support"]) == {"get", "put"}
    download = paths["/api/config/bundle"]["post"]
    assert "application/x-tar" in download["responses"]["200"]["content"]
    assert "requestBody" in download
