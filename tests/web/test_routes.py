"""The whole route table: every page and API route refuses a request without a session,
every change refuses a request without the CSRF token (MG-1, issue 7 acceptance), and the
container panel user reaches exactly the routes decided for it (MG-3, web/rights.py).

The app is built in-process from a real configuration; the walk covers every route the
app has, so a route added later is checked without anyone listing it here, and is
refused to the panel user unless it is added to PANEL_MAY below and to rights.py.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from tandem.web.app import create_app, routers
from tandem.web.guard import PUBLIC
from tandem.web.settings import WebSettings
from tests.web.conftest import PASSWORD, free_port, install

SAMPLE = {"node": "node1", "kind": "refresh", "job_id": "0", "notice_id": "0", "veid": "101",
          "action": "start"}  # fmt: skip
# What the panel user may reach besides the public routes (with SAMPLE filled in): the
# container pages and API without create, template install and template cache backup.
PANEL_MAY = {
    ("GET", "/containers"),
    ("GET", "/containers/101"),
    ("GET", "/api/containers"),
    ("GET", "/api/containers/101"),
    ("PUT", "/api/containers/101"),
    ("POST", "/api/containers/101/start"),
    ("POST", "/api/containers/101/backup"),
    ("POST", "/api/backups/restore"),
    ("GET", "/api/jobs/node1/0"),
    ("GET", "/api/jobs/node1/0/stream"),
    ("POST", "/api/logout"),
    ("PUT", "/api/session/language"),
}
PANEL_PW = "panel secret 1"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    root = tmp_path_factory.mktemp("routes")
    etc = install(root, free_port())["node1"]
    settings = WebSettings(etc_dir=etc, state_dir=root / "state", run_dir=root / "run",
                           node="node1", peer_timeout=0.2)  # fmt: skip
    return create_app(settings, background=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


def routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, concrete path) for every route, path parameters filled in: the routers'
    routes and whatever the app has of its own (the OpenAPI description)."""
    found = []
    own = [r for r in app.routes if isinstance(r, (APIRoute, Route)) and not isinstance(r, Mount)]
    for route in [r for router in routers() for r in router.routes] + own:
        assert isinstance(route, (APIRoute, Route)), route
        path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: SAMPLE[m.group(1)], route.path)
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found.append((method, path))
    return found


def test_the_walk_covers_pages_api_and_peer_routes(app: FastAPI) -> None:
    paths = {p for _, p in routes(app)}
    described = {re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], p)
                 for p in app.openapi()["paths"]}  # fmt: skip
    assert described <= paths, described - paths
    assert {"/", "/network", "/status", "/api/network", "/api/passwords"} <= paths
    assert any(p.startswith("/peer/") for p in paths)
    assert len(routes(app)) >= 30


def test_without_a_session_everything_is_refused(app: FastAPI, client: TestClient) -> None:
    for method, path in routes(app):
        if (method, path) in PUBLIC:
            continue
        response = client.request(method, path)
        if path.startswith("/peer/"):
            # Node-to-node routes take no session at all, only the cluster key's signature.
            assert response.status_code == 403, (method, path)
            assert "unsigned" in response.json()["detail"]
        elif path.startswith("/api/") or method != "GET":
            assert response.status_code == 401, (method, path, response.text)
        else:
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/login?next=")


def test_public_routes_are_only_the_login_and_its_token(app: FastAPI) -> None:
    assert {p for _, p in PUBLIC} == {"/login", "/api/session", "/api/openapi.json", "/api/login"}


def test_every_change_needs_the_csrf_token(app: FastAPI, client: TestClient) -> None:
    token = client.get("/api/session").json()["csrf"]
    login = client.post("/api/login", json={"user": "admin", "password": PASSWORD},
                        headers={"X-CSRF-Token": token})  # fmt: skip
    assert login.status_code == 200
    changes = [(m, p) for m, p in routes(app) if m not in ("GET", "HEAD", "OPTIONS")]
    assert len(changes) >= 8
    for method, path in changes:
        if path.startswith("/peer/"):
            continue  # no session and no CSRF there: the signature is checked (above)
        for headers in ({}, {"X-CSRF-Token": "forged"}):
            response = client.request(method, path, json={}, headers=headers)
            assert response.status_code == 403, (method, path, headers)
            assert "CSRF" in response.json()["message"]


def test_login_itself_needs_the_csrf_token(client: TestClient) -> None:
    response = client.post("/api/login", json={"user": "admin", "password": PASSWORD})
    assert response.status_code == 403


def test_session_cookie_is_secure(client: TestClient) -> None:
    response = client.get("/api/session")
    cookie = response.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_nothing_was_written(app: FastAPI) -> None:
    web = app.state.web
    assert web.journal.entries() == []
    assert not Path(web.settings.state_dir / "config-stamp.json").exists()


def test_the_panel_user_reaches_only_its_routes(app: FastAPI) -> None:
    """Logged in as panel, every route not in PANEL_MAY is refused before it runs: pages
    with a 403 page that says so (Home: to the Containers page), the API and every change
    with 403 and the sentence. The allowed ones pass the gate; their changes are sent
    without the CSRF token, so they stop there and change nothing."""
    htpasswd = app.state.web.settings.secrets.htpasswd
    added = subprocess.run(["htpasswd", "-B", "-b", str(htpasswd), "panel", PANEL_PW],
                           capture_output=True, check=False)  # fmt: skip
    assert added.returncode == 0
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as panel:
        token = panel.get("/api/session").json()["csrf"]
        login = panel.post("/api/login", json={"user": "panel", "password": PANEL_PW},
                           headers={"X-CSRF-Token": token})  # fmt: skip
        assert login.status_code == 200
        english = panel.put("/api/session/language", json={"language": "en"},
                            headers={"X-CSRF-Token": login.json()["csrf"]})  # fmt: skip
        assert english.status_code == 200
        walked = routes(app)
        assert set(walked) >= PANEL_MAY, PANEL_MAY - set(walked)
        passed = set()
        for method, path in walked:
            if (method, path) in PUBLIC or path.startswith("/peer/"):
                continue
            response = panel.request(method, path)
            text = response.text
            refused = response.status_code == 403 and "may manage the containers only" in text
            if (method, path) in PANEL_MAY:
                assert not refused and response.status_code != 401, (method, path, text)
                if method != "GET":
                    assert "CSRF" in response.json()["message"], (method, path)
                passed.add((method, path))
            elif (method, path) == ("GET", "/"):
                assert response.status_code == 303
                assert response.headers["location"] == "/containers"
            elif path.startswith("/api/") or method != "GET":
                assert refused, (method, path, response.status_code, text)
                assert response.headers["content-type"] == "application/json"
            else:
                assert refused, (method, path, response.status_code)
                assert 'href="/containers"' in text
        assert passed == PANEL_MAY
        assert panel.get("/api/session").json()["user"] == "panel"  # still logged in
    subprocess.run(["htpasswd", "-D", str(htpasswd), "panel"], capture_output=True, check=True)
