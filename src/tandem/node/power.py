"""Shutting a node down or restarting it on purpose (seed 5.1.1 Wartung: "Herunterfahren
und neu starten von node1 und node2", e.g. to add memory; MG-2 Maintenance).

A clean shutdown must not look like a failure: when this node runs the service group,
the group moves to the other node first (a switchover, seconds of downtime), and only
then does the machine go down. If the group cannot move (the other node is down, its
data is not UpToDate, this node is in maintenance mode), the shutdown is refused with
the reason unless forced, because the containers would then stop until a node runs them
again.

The machine itself is powered off by its init: the node supervisor, a direct child of
PID 1 (systemd on a real node, the lab's init in the lab), sends it systemd's documented
signals SIGRTMIN+4 (poweroff.target) and SIGRTMIN+5 (reboot.target). Init then stops
the supervisor with SIGTERM like any other service, so the rest goes down in order.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from tandem import paths, rpc
from tandem.crm import move
from tandem.errors import TandemError

Action = Literal["poweroff", "reboot"]
SIGNALS: dict[str, int] = {
    "poweroff": signal.SIGRTMIN + 4,
    "reboot": signal.SIGRTMIN + 5,
}
VERBS = {"poweroff": "powers off", "reboot": "restarts"}

log = logging.getLogger("tandem.node")


def signal_init(action: str) -> int:
    """The supervisor's half: asks PID 1 to power off or restart, but only if PID 1 is
    this process's own init (so a supervisor run by hand never stops the wrong machine)."""
    if action not in SIGNALS:
        raise TandemError(f"unknown power action {action!r}; one of {', '.join(SIGNALS)}")
    if os.getppid() != 1:
        raise TandemError(
            f"the node supervisor (pid {os.getpid()}) was not started by init (pid 1), so it "
            "cannot ask init to shut the machine down; use the machine's own means "
            "(`systemctl poweroff` or `systemctl reboot`)"
        )
    return SIGNALS[action]


def shut_down(
    action: Action,
    force: bool = False,
    say: Callable[[str], None] = lambda _line: None,
    crm_socket: Path = move.SOCKET,
    node_socket: Path = paths.NODE_SOCKET,
    wait: float = 120.0,
) -> str:
    """Moves the group away if it runs here, then has init power off or restart this
    node. Returns the closing sentence; raises TandemError (nothing done) when refused."""
    node = _leave_group(force, say, crm_socket, wait)
    try:
        reply = rpc.call(node_socket, "power", timeout=10, action=action)
    except rpc.RpcUnavailable as exc:
        raise TandemError(
            f"the node supervisor does not answer ({exc}); shut the machine down with "
            "`systemctl poweroff` or `systemctl reboot`"
        ) from None
    return f"{reply.get('node') or node} {VERBS[action]} now, on the operator's request"


def _leave_group(force: bool, say: Callable[[str], None], socket: Path, wait: float) -> str:
    try:
        info = move.ask("status", socket=socket)
    except TandemError as exc:
        if not force:
            raise TandemError(
                f"{exc}; without it nobody can tell whether this node runs the service group, "
                "so nothing was done (use --force to shut down anyway)"
            ) from None
        say(f"{exc}; going on because of --force")
        return "this node"
    me, peer = str(info["node"]), str(info["peer"])
    if not info["active"] and info["group"] == "stopped":
        where = move.runs_on(info)
        say(f"{me} is passive: " + (f"{where} keeps serving" if where else
                                     "no node runs the service group"))  # fmt: skip
        return me
    if info.get("maintenance"):
        if not force:
            raise TandemError(
                f"{me} runs the service group and is in maintenance mode, so its HA loop moves "
                f"nothing: the containers would stop with {me}. Switch maintenance mode off "
                f"(`tandem crm maintenance off`) to move them to {peer} first, or use --force "
                f"to stop them with the node; nothing was done"
            )
        say(f"{me} is in maintenance mode: the service group stops with it (--force)")
        return me
    say(f"{me} runs the service group: moving it to {peer} first")
    try:
        moved = move.move_group(False, wait, socket, said=say)
    except TandemError as exc:
        if not force:
            raise TandemError(
                f"not shutting {me} down: the service group could not move to {peer}: {exc}. "
                f"Use --force to shut down anyway; the containers then stop until a node runs "
                f"them again"
            ) from None
        say(f"the service group could not move to {peer} ({exc}); it stops with {me} (--force)")
        return me
    say(f"the service group runs on {moved.to} (switchover took {moved.seconds:.2f} s)")
    return me
