"""`tandem node`: the node supervisor and its status."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer
from rich.table import Table

from tandem import logs, paths, rpc
from tandem.cli.output import console, fail, print_json

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


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
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
