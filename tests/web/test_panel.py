"""The container panel user (MG-2 Passwords, MG-3; the seed's vzagent0): a second login in
the same htpasswd file, Apache-compatible both ways, set or disabled on both nodes, that
sees and reaches only the container pages; and the two users' password changes leave each
other's sessions alone. (tests/web/test_routes.py walks every route as the panel user.)"""

from __future__ import annotations

import contextlib
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from tandem.web.app import create_app
from tandem.web.settings import WebSettings
from tests.web.conftest import PASSWORD, Node, free_port, install
from tests.web.guests import needs_root, tmpfs

PANEL_PW = "panel secret 1"


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    etc = install(tmp_path, free_port())["node1"]
    settings = WebSettings(etc_dir=etc, state_dir=tmp_path / "state", run_dir=tmp_path / "run",
                           node="node1", peer_timeout=0.2, vz_dir=tmp_path / "vz")  # fmt: skip
    return create_app(settings, background=False)


def htfile(app: FastAPI) -> Path:
    return Path(app.state.web.settings.secrets.htpasswd)


def log_in(client: TestClient, user: str, password: str) -> TestClient:
    """Log `client` in as `user`, with English pages."""
    client.headers["X-CSRF-Token"] = client.get("/api/session").json()["csrf"]
    reply = client.post("/api/login", json={"user": user, "password": password})
    assert reply.status_code == 200, reply.text
    client.headers["X-CSRF-Token"] = client.get("/api/session").json()["csrf"]
    assert client.put("/api/session/language", json={"language": "en"}).status_code == 200
    return client


@contextlib.contextmanager
def browser(app: FastAPI, user: str, password: str) -> Iterator[TestClient]:
    """Another logged-in session. Not entered as a context manager: that would run the
    app's lifespan, whose end closes its peer client while `admin` still uses the app."""
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    try:
        yield log_in(client, user, password)
    finally:
        client.close()


@pytest.fixture
def admin(app: FastAPI) -> Iterator[TestClient]:
    """The first session; it runs the app's lifespan for the whole test."""
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield log_in(client, "admin", PASSWORD)


def htpasswd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["htpasswd", *args], capture_output=True, text=True, check=False)


def set_panel(admin: TestClient, password: str = PANEL_PW) -> None:
    body = {"target": "panel", "password": password, "repeat": password}
    reply = admin.post("/api/passwords", json=body)
    assert reply.status_code == 200, reply.text
    assert reply.json()["nodes"]["node1"]["state"] == "applied"


def menu(html: str) -> list[str]:
    nav = html.split('<nav class="menu"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'href="([^"]+)"', nav)


def test_an_entry_written_by_apaches_htpasswd_logs_in_as_panel(app: FastAPI) -> None:
    assert htpasswd("-B", "-b", str(htfile(app)), "panel", PANEL_PW).returncode == 0
    assert "\npanel:$2y$" in htfile(app).read_text()
    with browser(app, "panel", PANEL_PW) as panel:
        assert panel.get("/api/session").json()["user"] == "panel"
        page = panel.get("/containers")
        assert page.status_code == 200
        assert menu(page.text) == ["/containers"]  # only what it may use
        assert "logged in as" in page.text and "<b data-user>panel</b>" in page.text
        # Home is the Containers page; other pages say why not, in words.
        home = panel.get("/")
        assert (home.status_code, home.headers["location"]) == (303, "/containers")
        refused = panel.get("/network")
        assert refused.status_code == 403
        assert "may manage the containers only" in refused.text
        assert 'href="/containers"' in refused.text
        assert menu(refused.text) == ["/containers"]
        api = panel.get("/api/config")
        assert api.status_code == 403
        assert "may manage the containers only" in api.json()["message"]
        change = panel.post("/api/passwords",
                            json={"target": "admin", "password": "taken over 1",
                                  "repeat": "taken over 1"})  # fmt: skip
        assert change.status_code == 403
    assert htpasswd("-vb", str(htfile(app)), "admin", PASSWORD).returncode == 0


@needs_root
def test_the_containers_page_offers_the_panel_no_create_and_no_template_install(
    app: FastAPI, admin: TestClient
) -> None:
    set_panel(admin)
    with tmpfs(Path(app.state.web.settings.vz_dir)):
        page = admin.get("/containers").text
        assert 'id="create"' in page and 'id="template"' in page and 'id="ve-list"' not in page
        with browser(app, "panel", PANEL_PW) as panel:
            page = panel.get("/containers").text
            assert "No containers yet." in page  # the list is there
            assert 'id="create"' not in page and 'id="template"' not in page
            body = {"veid": "102", "ostemplate": "busybox", "sample": "vps.256MB"}
            assert panel.post("/api/containers", json=body).status_code == 403
            assert panel.post("/api/templates", json={"name": "busybox"}).status_code == 403
            assert panel.post("/api/template-cache/backup").status_code == 403


def test_the_refusal_speaks_german_too(app: FastAPI, admin: TestClient) -> None:
    set_panel(admin)
    with browser(app, "panel", PANEL_PW) as panel:
        assert panel.put("/api/session/language", json={"language": "de"}).status_code == 200
        reply = panel.get("/api/status")
        assert reply.json()["message"].startswith("Der Benutzer panel darf nur die Container")
        assert "Nicht für diese Anmeldung" in panel.get("/updates").text


def test_admin_sees_everything_and_who_is_logged_in(admin: TestClient) -> None:
    page = admin.get("/passwords")
    assert len(menu(page.text)) == 8
    assert "<b data-user>admin</b>" in page.text
    assert 'data-panel="off"' in page.text and 'id="pw-panel-disable"' not in page.text
    assert admin.get("/api/passwords").json() == {"admin": True, "panel": False}


def test_a_panel_password_set_on_the_page_verifies_with_htpasswd(
    app: FastAPI, admin: TestClient
) -> None:
    set_panel(admin)
    assert htpasswd("-vb", str(htfile(app)), "panel", PANEL_PW).returncode == 0
    assert htpasswd("-vb", str(htfile(app)), "panel", "not it at all").returncode != 0
    assert htpasswd("-vb", str(htfile(app)), "admin", PASSWORD).returncode == 0  # kept
    assert oct(htfile(app).stat().st_mode & 0o777) == "0o600"
    page = admin.get("/passwords")
    assert 'data-panel="on"' in page.text and 'id="pw-panel-disable"' in page.text
    assert admin.get("/api/passwords").json() == {"admin": True, "panel": True}


def test_disabling_removes_the_entry_and_ends_the_panel(app: FastAPI, admin: TestClient) -> None:
    set_panel(admin)
    with browser(app, "panel", PANEL_PW) as panel:
        assert panel.get("/api/containers").status_code == 200
        reply = admin.delete("/api/passwords/panel")
        assert reply.status_code == 200
        assert reply.json()["nodes"]["node1"]["state"] == "applied"
        assert "panel:" not in htfile(app).read_text()
        assert htpasswd("-vb", str(htfile(app)), "admin", PASSWORD).returncode == 0
        assert panel.get("/api/containers").status_code == 401  # its session ended
    with contextlib.closing(TestClient(app, base_url="https://testserver")) as fresh:
        token = fresh.get("/api/session").json()["csrf"]
        login = fresh.post("/api/login", json={"user": "panel", "password": PANEL_PW},
                           headers={"X-CSRF-Token": token})  # fmt: skip
        assert login.status_code == 401
    again = admin.delete("/api/passwords/panel").json()
    assert again["nodes"]["node1"]["state"] == "unchanged"
    assert admin.get("/api/passwords").json()["panel"] is False
    assert admin.get("/api/containers").status_code == 200  # admin's session is untouched


def test_one_users_password_change_leaves_the_others_sessions(
    app: FastAPI, admin: TestClient
) -> None:
    set_panel(admin)
    with (
        browser(app, "panel", PANEL_PW) as panel,
        browser(app, "admin", PASSWORD) as other_admin,
    ):
        body = {"target": "admin", "password": "new admin pw 1", "repeat": "new admin pw 1"}
        assert admin.post("/api/passwords", json=body).status_code == 200
        assert admin.get("/api/config").status_code == 200  # the session that changed it
        assert other_admin.get("/api/config").status_code == 401  # older admin sessions end
        assert panel.get("/api/containers").status_code == 200  # the panel's does not
        set_panel(admin, "new panel pw 2")
        assert panel.get("/api/containers").status_code == 401
        assert admin.get("/api/config").status_code == 200


def test_panel_set_and_disabled_on_both_nodes(cluster: dict[str, Node]) -> None:
    node1, node2 = cluster["node1"], cluster["node2"]
    body = {"target": "panel", "password": PANEL_PW, "repeat": PANEL_PW}
    result = node1.send("POST", "/api/passwords", body).json()
    assert result["complete"], result
    panel2 = Node(node2.name, node2.root, node2.etc, node2.port)
    try:
        assert panel2.login(PANEL_PW, user="panel").status_code == 200
        assert panel2.client.get("/containers").status_code == 200
        assert panel2.client.get("/network").status_code == 403
        ht2 = node2.etc / "secrets" / "htpasswd"
        assert htpasswd("-vb", str(ht2), "panel", PANEL_PW).returncode == 0
        result = node1.send("DELETE", "/api/passwords/panel").json()
        assert result["complete"] and result["nodes"]["node2"]["state"] == "applied", result
        assert "panel:" not in ht2.read_text()
        assert panel2.client.get("/containers").status_code == 303  # to the login
        assert panel2.login(PANEL_PW, user="panel").status_code == 401
    finally:
        panel2.client.close()
