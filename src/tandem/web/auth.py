"""The web's two logins, checked against the htpasswd file (MG-1, MG-2, OP-4).

`admin` may do everything. `panel` is the seed's container panel user (vzagent0 of the
Virtuozzo Control Center, MG-3): it may only manage the containers (guard.py says what
exactly). It exists only while it has a line in the file: the Passwords page sets and
removes it, so "disabled" is simply no line.

A session remembers a fingerprint of its own user's stored hash: when that password
changes (on the Passwords page or with `htpasswd -B` as root), every older session of
that user ends, and the other user's sessions are untouched.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from tandem.config.secrets import check_password, htpasswd_hash

ADMIN = "admin"
PANEL = "panel"
USERS = (ADMIN, PANEL)
SESSION_SECONDS = 8 * 3600


class PasswordFile:
    """The htpasswd file, re-read only when it changes (every request asks)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._fingerprints: dict[str, str | None] = {}

    def fingerprint(self, user: str = ADMIN) -> str | None:
        """A digest of `user`'s stored hash; None when the user has no line."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp != self._stamp:
            self._fingerprints = {}
            self._stamp = stamp
        if user not in self._fingerprints:
            hashed = htpasswd_hash(self.path, user)
            self._fingerprints[user] = (
                None if hashed is None else hashlib.sha256(hashed.encode()).hexdigest()[:32]
            )
        return self._fingerprints[user]

    def enabled(self, user: str) -> bool:
        return self.fingerprint(user) is not None

    def check(self, user: str, password: str) -> bool:
        return user in USERS and check_password(self.path, user, password)


def log_in(session: MutableMapping[str, Any], user: str, fingerprint: str | None) -> None:
    lang = session.get("lang")
    session.clear()
    session.update(user=user, pw=fingerprint, since=time.time())
    if lang:
        session["lang"] = lang


def current_user(session: MutableMapping[str, Any], passwords: PasswordFile) -> str | None:
    """Who this session is logged in as, or None (never logged in, expired, or that
    user's password changed or was removed since)."""
    user = session.get("user")
    if user not in USERS:
        return None
    since = session.get("since")
    if not isinstance(since, (int, float)) or time.time() - since > SESSION_SECONDS:
        return None
    current = passwords.fingerprint(user)
    if current is None or session.get("pw") != current:
        return None
    return str(user)


def logged_in(session: MutableMapping[str, Any], passwords: PasswordFile) -> bool:
    return current_user(session, passwords) is not None
