"""Updates inside container 101 (MG-2 Updates; seed 5.1.1: "Updates VE 101").

Container 101 runs where /vz is mounted, so only that node can list or apply its updates;
the other node's page asks it (api/updates.py). Every command goes into the container
through lxc-attach, the path `tandem ve exec` takes, with apt's noninteractive environment
and nothing else of the node's. The commands are fixed here: the API names a kind
("refresh", "apply"), never an argv. A container that cannot take them (stopped, or a
template without apt such as busybox) is "not available" with the reason, not an error.
"""

from __future__ import annotations

import subprocess
from typing import Any

from tandem.containers.errors import ContainerError
from tandem.containers.manager import Containers
from tandem.errors import TandemError
from tandem.system.run import run
from tandem.web.updates import APPLY, REFRESH, parse

VEID = 101
ENV = {"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
KINDS = {"refresh": REFRESH, "apply": APPLY}
LIST = ["apt", "list", "--upgradable"]
# A shell's builtin, so that it answers in any container, busybox's included.
HAS_APT = ["/bin/sh", "-c",
           "if command -v apt-get >/dev/null && command -v apt >/dev/null; then echo apt; "
           "else echo none; fi"]  # fmt: skip


class Unavailable(TandemError):
    """Container 101's updates cannot be handled here; `elsewhere`: not on this node's /vz,
    so the other node may have it."""

    def __init__(self, reason: str, elsewhere: bool = False) -> None:
        super().__init__(reason)
        self.elsewhere = elsewhere


def argv(containers: Containers, command: list[str]) -> list[str]:
    """`command` inside a running container 101 with apt's environment."""
    try:
        containers.layout.require_mounted()
    except ContainerError:
        raise Unavailable(f"{containers.layout.root} is not mounted here", True) from None
    if not containers.exists(VEID):
        raise Unavailable(f"container {VEID} does not exist; install it on the Containers page")
    if containers.lxc.state(VEID) != "RUNNING":
        raise Unavailable(f"container {VEID} is not running; start it on the Containers page")
    try:
        return containers.exec_argv(VEID, command, ENV)
    except ContainerError as exc:
        raise Unavailable(str(exc)) from None


def _inside(containers: Containers, command: list[str], timeout: float) -> str:
    try:
        result = run(argv(containers, command), check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"container {VEID} did not answer within {timeout:g} s") from None
    except OSError as exc:
        raise Unavailable(f"cannot enter container {VEID}: {exc}") from None
    if result.returncode != 0:
        why = (result.stderr or result.stdout).strip() or f"exit code {result.returncode}"
        raise Unavailable(f"`{' '.join(command)}` failed in container {VEID}: {why}")
    return result.stdout


def command(containers: Containers, kind: str) -> list[str]:
    """The argv of a job ("refresh" or "apply") in container 101, after the checks."""
    require_apt(containers)
    return argv(containers, KINDS[kind])


def require_apt(containers: Containers) -> None:
    if _inside(containers, HAS_APT, 30).strip() != "apt":
        raise Unavailable(
            f"container {VEID} has no apt: its OS template is not Debian's (busybox, for "
            "one, is updated by installing it anew)"
        )


def upgradable(containers: Containers) -> dict[str, Any]:
    """Container 101's upgradable packages, as updates.upgradable gives the node's."""
    try:
        require_apt(containers)
        packages = parse(_inside(containers, LIST, 60))
    except Unavailable as exc:
        return {"available": False, "reason": str(exc), "elsewhere": exc.elsewhere}
    lists = containers.layout.rootfs(VEID) / "var" / "lib" / "apt" / "lists"
    try:
        checked: float | None = lists.stat().st_mtime
    except OSError:
        checked = None
    return {
        "available": True,
        "checked": checked,
        "packages": packages,
        "security": sum(1 for p in packages if p["security"]),
    }
