"""`tandem node`: the node supervisor and its status."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tandem import logs, paths, rpc
from tandem.cli.output import console, fail, print_json

if TYPE_CHECKING:
    from tandem.node.power import Action

app = typer.Typer(help="The node supervisor: what systemd (or the lab) starts on each node.")


@app.command("run")
def run_() -> None:
    """Start and supervise this node's services until SIGTERM (systemd's ExecStart)."""
    from tandem.node.supervisor import Supervisor

    logs.setup("node")
    asyncio.run(Supervisor().run())


@app.command()
def restart(
    service: Annotated[str, typer.Argument(help="The service: membership, volume, web, ...")],
) -> None:
    """Restart one of this node's services (after changing what it reads only at start)."""
    try:
        info = rpc.call(paths.NODE_SOCKET, "restart", timeout=60, service=service)
    except rpc.RpcUnavailable as exc:
        fail(f"the node supervisor is not running here: {exc}; start it with `tandem node run`")
    pid = next(s["pid"] for s in info["services"] if s["name"] == service)
    console.print(f"service {service} restarted (pid {pid})")


ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Go down even if the service group cannot move to the other node first "
        "(its containers then stop until a node runs them again).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _power(action: Action, force: bool, as_json: bool) -> None:
    from tandem.errors import TandemError
    from tandem.node.power import shut_down

    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        if not as_json:
            console.print(line, markup=False)

    try:
        sentence = shut_down(action, force, say)
    except TandemError as exc:
        if as_json:
            print_json({"power": {"action": action, "done": False, "error": str(exc),
                                  "steps": lines}})  # fmt: skip
            raise typer.Exit(1) from None
        fail(str(exc))
    if as_json:
        print_json({"power": {"action": action, "done": True, "sentence": sentence,
                              "steps": lines}})  # fmt: skip
    else:
        console.print(sentence, markup=False)


@app.command()
def shutdown(force: ForceOpt = False, as_json: JsonOpt = False) -> None:
    """Power this node off cleanly: if it runs the service group, the group moves to the
    other node first (seed 5.1.1 Wartung)."""
    _power("poweroff", force, as_json)


@app.command()
def reboot(force: ForceOpt = False, as_json: JsonOpt = False) -> None:
    """Restart this node cleanly: if it runs the service group, the group moves to the
    other node first (there is no automatic failback, CM-4)."""
    _power("reboot", force, as_json)


@app.command()
def status(
    as_json: JsonOpt = False,
) -> None:
    """Show the supervisor and the services it runs on this node."""
    try:
        info = rpc.call(paths.NODE_SOCKET, "status")
    except rpc.RpcUnavailable as exc:
        fail(f"the node supervisor is not running here: {exc}; start it with `tandem node run`")
    if as_json:
        print_json(info)
        return
    node = info.get("node") or "(not yet known)"
    up = time.time() - float(info["started"])
    console.print(
        f"{info['hostname']}: {node}, supervisor {info['version']} pid {info['pid']}, "
        f"up {up:.0f} s",
        markup=False,
    )
    if info.get("waiting_for"):
        console.print(f"[yellow]waiting for {info['waiting_for']}[/]")
    table = Table("SERVICE", "STATE", "PID", "RESTARTS", "LAST EXIT")
    for s in info["services"]:
        table.add_row(
            s["name"], s["state"], str(s["pid"] or "-"), str(s["restarts"]), str(s["last_exit"])
        )
    if info["services"]:
        console.print(table)
    else:
        console.print("no services configured yet")
