"""root's password inside a container (MG-2 Passwords, seed 5.1.1 "Passwort root Benutzer
VE 101"), set from the node in the container's /etc/shadow.

From the node rather than with `passwd` inside the container, so that it works whether
the container runs or not (a stopped one's disk is mounted for the moment), and so that
only a crypt hash ever leaves the web: the clear-text password is hashed there
(web/passwords.root_hash) and nothing here sees it.

The file is changed as `chpasswd -e` would: root's second field becomes the hash, the
third the day of the change; every other line and field stays. Never through a link
(guestfiles.edit). Two cases are refused rather than guessed at, each with the reason:

- no /etc/shadow: the busybox template and Debian have one (busybox's login and su read
  it when /etc/passwd says `x`, as the tests check with the real busybox su), so a
  container without it keeps its passwords elsewhere, and a file made by tandem would be
  ignored by its login;
- root's /etc/passwd entry holds something other than `x` in its password field: login
  and su take that field itself then, so a hash in /etc/shadow would not count.

A root line missing from /etc/shadow is added, since with `x` in /etc/passwd that is
where login looks.
"""

from __future__ import annotations

import time
from pathlib import Path

from tandem.containers import guestfiles, locks
from tandem.containers.errors import ContainerError
from tandem.containers.manager import Containers

SHADOW = "etc/shadow"
ACCOUNTS = "etc/passwd"
FIELDS = 9  # name:hash:lastchg:min:max:warn:inactive:expire:reserved


def today() -> int:
    """Days since 1970-01-01, the unit of /etc/shadow's dates."""
    return int(time.time() // 86400)


def with_root_hash(shadow: str, hashed: str, day: int) -> str:
    """`shadow` with root's hash and change day replaced (or a root line added)."""
    lines = shadow.splitlines()
    for i, line in enumerate(lines):
        fields = line.split(":")
        if fields[0] == "root":
            fields += [""] * (FIELDS - len(fields))
            fields[1], fields[2] = hashed, str(day)
            lines[i] = ":".join(fields)
            break
    else:
        lines.insert(0, f"root:{hashed}:{day}:0:99999:7:::")
    return "\n".join(lines) + "\n"


def check_passwd(passwd: str) -> None:
    for line in passwd.splitlines():
        fields = line.split(":")
        if fields[0] == "root":
            if len(fields) > 1 and fields[1] != "x":
                raise ContainerError(
                    "root's entry in /etc/passwd holds its password itself instead of 'x', "
                    "so /etc/shadow would not count; put 'x' there inside the container"
                )
            return
    raise ContainerError("/etc/passwd has no entry for root")


def set_root_hash(root: Path, hashed: str) -> None:
    """Write `hashed` as root's password into the root filesystem at `root`."""
    if any(c in hashed for c in ":\n\r") or not hashed.startswith("$"):
        raise ContainerError("not a crypt hash")
    check_passwd(guestfiles.read_regular(root, ACCOUNTS))
    day = today()
    try:
        guestfiles.edit(root, SHADOW, lambda text: with_root_hash(text, hashed, day))
    except guestfiles.MissingFile:
        raise ContainerError(
            "it has no /etc/shadow, so its login keeps passwords elsewhere and would ignore "
            "one written there; set it inside the container with passwd"
        ) from None


def set_root_password(containers: Containers, veid: int, hashed: str, asked: str) -> None:
    """Set root's password of container `veid` on this node's /vz, running or stopped,
    and say so in its action log (`asked`: where the request came from)."""
    defn = containers.definition(veid)
    containers.layout.require_mounted()
    with locks.container(defn.veid), containers.mounted(defn.veid) as root:
        try:
            set_root_hash(root, hashed)
        except ContainerError as exc:
            raise ContainerError(
                f"root's password of container {defn.veid} was not set: {exc}"
            ) from None
    containers.log(defn.veid, "password", f"root password changed ({asked})")
