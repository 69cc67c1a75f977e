"""The gate in front of every route: no session, no page; not your route, no page; no
CSRF token, no change.

It is middleware rather than a dependency on each route so that a route added later is
protected without anyone remembering to protect it; tests/web/test_routes.py walks the
route table to prove it. The only exceptions are PUBLIC (rights.py) and the /peer/
prefix (node-to-node calls, authenticated by HMAC in peer_auth.py instead). What the
container panel user may reach is the allow-list in rights.py; everything else answers
it with 403: a sentence for the API, a page that says so (and where to go) for a page,
and Home sends it to the Containers page, its home.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from tandem.web import csrf, render
from tandem.web.auth import PasswordFile, current_user
from tandem.web.context import translator
from tandem.web.rights import PANEL_HOME, PUBLIC, PUBLIC_PREFIXES, may

PEER_PREFIX = "/peer/"


class Guard:
    def __init__(self, app: ASGIApp, passwords: PasswordFile) -> None:
        self.app = app
        self.passwords = passwords

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith(PEER_PREFIX) or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        session = scope["session"]
        csrf.token_of(session)
        if (method, path) not in PUBLIC:
            user = current_user(session, self.passwords)
            if user is None:
                await _refuse_login(scope, send, path)
                return
            if not may(user, method, path):
                await _refuse_user(scope, receive, send, user)
                return
        if method not in csrf.SAFE_METHODS and not csrf.valid(session, _header(scope)):
            await _json(send, 403, {"message": "missing or wrong CSRF token: reload the page "
                                               "(API clients: send X-CSRF-Token from "
                                               "GET /api/session)"})  # fmt: skip
            return
        await self.app(scope, receive, send)


def _header(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == csrf.HEADER.encode():
            text: str = value.decode("latin-1")
            return text
    return None


async def _refuse_login(scope: Scope, send: Send, path: str) -> None:
    if path.startswith("/api/") or scope["method"] not in ("GET", "HEAD"):
        await _json(send, 401, {"message": "not logged in: POST /api/login first"})
        return
    target = path + (("?" + scope["query_string"].decode()) if scope["query_string"] else "")
    await _redirect(send, "/login?next=" + quote(target, safe=""))


async def _refuse_user(scope: Scope, receive: Receive, send: Send, user: str) -> None:
    """Checked before the CSRF token, so that a refused change says why it is refused."""
    path: str = scope["path"]
    if path == "/" and scope["method"] in ("GET", "HEAD"):
        await _redirect(send, PANEL_HOME)
        return
    request = Request(scope, receive)
    _ = translator(request)
    sentence = _.gettext(
        "The user {user} may manage the containers only; this is for the user admin."
    ).format(user=user)
    if path.startswith("/api/") or scope["method"] not in ("GET", "HEAD"):
        await _json(send, 403, {"message": sentence})
        return
    response = render.page(request, "refused.html", "refused", sentence=sentence)
    response.status_code = 403
    await response(scope, receive, send)


async def _redirect(send: Send, location: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def _json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
