"""`tandem crm` and `tandem switchover`: the HA loop, its status, and moving the group
(CM-2, CM-5)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

import typer

from tandem import logs, rpc
from tandem.cli.output import console, fail, print_json
from tandem.crm.move import SOCKET
from tandem.errors import TandemError

app = typer.Typer(help="The HA loop: who runs the service group, and why.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _ask(op: str, timeout: float = 10.0, **args: Any) -> dict[str, Any]:
    try:
        return rpc.call(SOCKET, op, timeout=timeout, **args)
    except rpc.RpcUnavailable as exc:
        fail(f"the HA loop is not running on this node: {exc}; see `tandem node status`")


@app.command("run")
def run_() -> None:
    """Run the HA loop (the node supervisor starts it)."""
    from tandem.crm.daemon import CrmDaemon
    from tandem.membership.daemon import load

    logs.setup("crm")
    cfg, node, _key, _digest = load()
    asyncio.run(CrmDaemon(cfg, node).run())


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """The group on this node, each member, the last transition with its timings."""
    info = _ask("status")
    if as_json:
        print_json({"crm": info})
        return
    render(info)


def render(info: dict[str, Any]) -> None:
    me, peer = info["node"], info["peer"]
    peer_active = bool(info.get("peer_crm", {}).get("active"))
    if info["active"]:
        where = f"[green]active on {me}[/] (this node)"
    elif peer_active:
        where = f"[green]active on {peer}[/]"
    else:
        where = "[yellow]not running on either node[/]"
    console.print(f"service group: {where}, here {info['group']}")
    if info.get("maintenance"):
        console.print("[yellow]maintenance mode: the HA loop acts on nothing[/]")
    members = "  ".join(f"{name} {state}" for name, state in info["members"].items())
    console.print(f"members here: {members}", markup=False)
    if not info["may_run"]:
        console.print(f"this node may not run it: {info['why_not']}", markup=False)
    if info.get("failure"):
        console.print(f"[red]failure:[/] {info['failure']}")
    if info.get("blocked"):
        console.print(f"[red]blocked:[/] {info['blocked']} (clear with `tandem crm clear`)")
    last = info.get("last_transition")
    if last:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last["started"]))
        verdict = "ok" if last["ok"] else "FAILED"
        console.print(
            f"last transition: {last['kind']} at {when}, {verdict}, {last['seconds']:.2f} s: "
            f"{last['reason']}",
            markup=False,
        )
        for step in last["steps"]:
            mark = "ok " if step["ok"] else "ERR"
            console.print(
                f"  {mark} {step['name']:<22} {step['seconds']:7.2f} s  {step['detail']}",
                markup=False,
            )
    if info.get("last_decision"):
        console.print(f"last decision: {info['last_decision']}", markup=False)


@app.command()
def maintenance(
    mode: Annotated[str, typer.Argument(help="on: watch only, act on nothing; off: act again.")],
) -> None:
    """Maintenance mode on this node: the HA loop starts, stops and moves nothing."""
    if mode not in ("on", "off"):
        fail(f"maintenance {mode!r}: say on or off", 2)
    _ask("maintenance", on=mode == "on")
    console.print(f"maintenance mode {mode} on this node")


@app.command()
def clear() -> None:
    """After repairing what failed: let this node run the group again."""
    _ask("clear")
    console.print("cleared: this node may run the group again")


def switchover(
    force: Annotated[
        bool, typer.Option(help="Move even if the other node is not healthy and UpToDate.")
    ] = False,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the move.")] = 120.0,
    as_json: JsonOpt = False,
) -> None:
    """Move the service group to the other node: stop here, start there (CM-2)."""
    from tandem.crm.move import move_group

    say = (lambda _line: None) if as_json else (lambda line: console.print(line, markup=False))
    try:
        moved = move_group(force, wait, SOCKET, said=say)
    except TandemError as exc:
        fail(str(exc))
    if as_json:
        print_json({"switchover": {"to": moved.to, "seconds": moved.seconds}})
    else:
        console.print(f"the group runs on {moved.to} (switchover took {moved.seconds:.2f} s)")
