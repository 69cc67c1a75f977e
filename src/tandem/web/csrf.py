"""CSRF protection: every change carries the session's token in the X-CSRF-Token header.

The token is random per session and lives in the signed session cookie; pages put it in a
<meta> tag for their scripts, API clients get it from GET /api/session. A forged request
from another site can send the cookie but cannot read the token.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import MutableMapping
from typing import Any

HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def token_of(session: MutableMapping[str, Any]) -> str:
    """The session's token, made on first use."""
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def valid(session: MutableMapping[str, Any], sent: str | None) -> bool:
    expected = session.get("csrf")
    if not isinstance(expected, str) or not expected or not sent:
        return False
    return hmac.compare_digest(expected.encode(), sent.encode())
