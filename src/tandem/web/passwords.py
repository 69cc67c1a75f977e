"""Setting passwords on this node: the web's logins (htpasswd, bcrypt), root (chpasswd),
and the hash that root of a container gets (containers/shadow.py writes it).

Only hashes travel to the other node and into the pending journal: a bcrypt line for the
htpasswd file, a SHA-512 crypt hash for /etc/shadow. `htpasswd -vb` verifies the first,
and the second is what `passwd` itself would write.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tandem.config.secrets import htpasswd_entry, remove_htpasswd_entry, set_htpasswd_entry
from tandem.errors import TandemError
from tandem.web.auth import USERS
from tandem.web.i18n import N_

MIN_LENGTH = 8
MAX_BYTES = 72  # bcrypt reads no further


class BadPassword(TandemError):
    pass


def check_new_password(password: str) -> None:
    """Raises BadPassword with a fixed sentence (the pages translate it)."""
    if not password:
        raise BadPassword(N_("must not be empty"))
    if len(password) < MIN_LENGTH:
        raise BadPassword(N_("is too short: at least 8 characters"))
    if len(password.encode()) > MAX_BYTES:
        raise BadPassword(N_("is too long: at most 72 bytes"))
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        raise BadPassword(N_("must not contain control characters"))


def login_entry(user: str, password: str) -> str:
    check_new_password(password)
    return htpasswd_entry(user, password)


def apply_login(htpasswd: Path, user: str, entry: str | None) -> bool:
    """Set `user`'s line, or remove it (entry None: that login is disabled). False when
    there was nothing to remove."""
    if user not in USERS:
        raise TandemError(f"{user!r} is not a login of the web")
    if entry is None:
        return remove_htpasswd_entry(htpasswd, user)
    set_htpasswd_entry(htpasswd, user, entry)
    return True


def root_hash(password: str) -> str:
    check_new_password(password)
    proc = subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"],
        input=password,
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    )
    if proc.returncode != 0 or not proc.stdout.startswith("$6$"):
        raise TandemError(f"openssl could not hash the password: {proc.stderr.strip()}")
    return proc.stdout.strip()


def check_hash(hashed: str) -> None:
    """A crypt hash fits in one field of /etc/shadow, or it is refused."""
    if not hashed.startswith("$") or any(c in hashed for c in ":\n\r"):
        raise TandemError("not a crypt hash")


def apply_root(system_root: Path, hashed: str) -> None:
    """Set root's password from a crypt hash, as `chpasswd -e` does on this node."""
    check_hash(hashed)
    argv = ["chpasswd", "-e"]
    if system_root != Path("/"):
        argv += ["-R", str(system_root)]
    proc = subprocess.run(
        argv, input=f"root:{hashed}\n", capture_output=True, text=True, check=False, timeout=30
    )
    if proc.returncode != 0:
        raise TandemError(f"chpasswd failed: {proc.stderr.strip() or proc.returncode}")
