"""Moving the service group and waiting until it has moved (CM-2): what `tandem switchover`
and a clean shutdown of the active node both do, so they wait for the same thing.

The HA loop only accepts the request; the move itself takes seconds (stop here, start
there), and the peer may still refuse it after accepting (its data is not UpToDate). So
the caller follows the loop's status until the group runs on the target or a refusal for
this very request (its token) comes back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tandem import paths, rpc
from tandem.errors import TandemError

SOCKET = paths.RUN_DIR / "crm.sock"
POLL = 0.2


@dataclass(frozen=True)
class Moved:
    to: str
    seconds: float
    accepted: str


def ask(op: str, timeout: float = 10.0, socket: Path = SOCKET, **args: Any) -> dict[str, Any]:
    try:
        return rpc.call(socket, op, timeout=timeout, **args)
    except rpc.RpcUnavailable as exc:
        raise TandemError(
            f"the HA loop is not running on this node: {exc}; see `tandem node status`"
        ) from None


def runs_on(info: dict[str, Any]) -> str | None:
    """Which node runs the group, as this node's HA loop sees it."""
    if info["active"]:
        return str(info["node"])
    if info.get("peer_crm", {}).get("active"):
        return str(info["peer"])
    return None


def move_group(
    force: bool,
    wait: float = 120.0,
    socket: Path = SOCKET,
    said: Callable[[str], None] = lambda _line: None,
) -> Moved:
    """Switch over to the other node and return once the group runs there (or here, when
    this node is the passive one); raises TandemError with the reason otherwise."""
    started = time.monotonic()
    before = ask("status", socket=socket)
    me, peer = before["node"], before["peer"]
    target = peer if before["active"] else me
    reply = ask("switchover", timeout=15, socket=socket, force=force)
    accepted = str(reply["accepted"])
    said(accepted)
    deadline = started + wait
    while time.monotonic() < deadline:
        info = ask("status", socket=socket)
        here = info["active"] and info["group"] == "running"
        there = info.get("peer_crm", {}).get("active") and not info["active"]
        answer = info.get("peer_crm", {}).get("answer_to")
        if target == me and answer == reply["token"] and not info["active"]:
            raise TandemError(info["peer_crm"].get("answer", "the other node refused"))
        if (target == me and here) or (target == peer and there and info["group"] == "stopped"):
            return Moved(target, round(time.monotonic() - started, 2), accepted)
        time.sleep(POLL)
    raise TandemError(
        f"the group does not run on {target} after {wait:.0f} s; see `tandem crm status`"
    )
