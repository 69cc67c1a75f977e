"""The gate in front of every route: no session, no page; no CSRF token, no change.

It is middleware rather than a dependency on each route so that a route added later is
protected without anyone remembering to protect it; tests/web/test_routes.py walks the
route table to prove it. The only exceptions are listed here, in PUBLIC and in the
/peer/ prefix (node-to-node calls, authenticated by HMAC in peer_auth.py instead).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from starlette.types import ASGIApp, Receive, Scope, Send

from tandem.web import csrf
from tandem.web.auth import PasswordFile, logged_in

# (method, path) reachable without a session. POST /api/login still needs the CSRF token
# of its (anonymous) session, so that another site cannot log a browser in.
PUBLIC = frozenset(
    {
        ("GET", "/login"),
        ("HEAD", "/login"),
        ("GET", "/api/session"),
        ("GET", "/api/openapi.json"),
        ("POST", "/api/login"),
    }
)
PUBLIC_PREFIXES = ("/static/",)
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
        if (method, path) not in PUBLIC and not logged_in(session, self.passwords):
            await _refuse_login(scope, send, path)
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
    location = "/login?next=" + quote(target, safe="")
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
