"""The one login, `admin`, checked against the htpasswd file (MG-1, OP-4).

A session remembers a fingerprint of the stored hash: when the password changes (on the
Passwords page or with `htpasswd -B` as root), every older session ends.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from tandem.config.secrets import check_password, htpasswd_hash

USER = "admin"
SESSION_SECONDS = 8 * 3600


class PasswordFile:
    """The htpasswd file, re-read only when it changes (every request asks)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._fingerprint: str | None = None

    def fingerprint(self) -> str | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp != self._stamp:
            hashed = htpasswd_hash(self.path, USER)
            self._fingerprint = (
                None if hashed is None else hashlib.sha256(hashed.encode()).hexdigest()[:32]
            )
            self._stamp = stamp
        return self._fingerprint

    def check(self, user: str, password: str) -> bool:
        return user == USER and check_password(self.path, user, password)


def log_in(session: MutableMapping[str, Any], fingerprint: str | None) -> None:
    lang = session.get("lang")
    session.clear()
    session.update(user=USER, pw=fingerprint, since=time.time())
    if lang:
        session["lang"] = lang


def logged_in(session: MutableMapping[str, Any], passwords: PasswordFile) -> bool:
    if session.get("user") != USER:
        return False
    since = session.get("since")
    if not isinstance(since, (int, float)) or time.time() - since > SESSION_SECONDS:
        return False
    current = passwords.fingerprint()
    return current is not None and session.get("pw") == current
