"""`tandem status`: the cluster as this node sees it, at a glance or as JSON."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from tandem import rpc
from tandem.cli.output import console, fail, print_json


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Peer, heartbeat paths, ping nodes, quorum and witness, dropped packets."""
    from tandem.membership.daemon import SOCKET

    try:
        info = rpc.call(SOCKET, "status")
    except rpc.RpcUnavailable as exc:
        fail(f"membership is not running on this node: {exc}")
    if as_json:
        print_json({"membership": info})
        return
    render(info)


def _ago(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.1f} s ago"


def render(info: dict[str, Any]) -> None:
    me, peer = info["node"], info["peer"]
    state = info["peer_state"]
    colour = {"alive": "green", "dead": "red"}.get(state, "yellow")
    console.print(
        f"[bold]{me}[/] (this node): peer {peer} [{colour}]{state}[/], "
        f"last heard {_ago(info['peer_last_heard'])}"
    )
    table = Table("PATH", "STATE", "LAST HEARD")
    for name, path in info["paths"].items():
        colour = {"up": "green", "down": "red"}.get(path["state"], "dim")
        table.add_row(name, f"[{colour}]{path['state']}[/]", _ago(path["last_heard"]))
    console.print(table)
    ping = info["ping"]
    targets = sorted(set(ping[me]) | set(ping.get(peer, {})))
    for target in targets:
        cells = []
        for node in (me, peer):
            ok = ping.get(node, {}).get(target)
            cells.append(f"{node} {'reaches' if ok else 'does not reach' if ok is False else '?'}")
        console.print(f"ping node {target}: {', '.join(cells)}", markup=False)
    q = info["quorum"]
    console.print(f"quorum: {'[green]held[/]' if q['granted'] else '[red]not held[/]'} "
                  f"({q['reason']})")  # fmt: skip
    if q["witness"] != "none":
        holder = q["witness_holder"] or "nobody"
        console.print(f"witness {q['witness_address']}: {q['witness']}, vote with {holder}",
                      markup=False)  # fmt: skip
    group = info["service_group"]
    verdict = "may run it" if group["granted"] else "may not run it"
    console.print(f"service group: {verdict} ({group['reason']})", markup=False)
    if group.get("self_fence"):
        fence = group["self_fence"]
        console.print(f"[red]self-fence:[/] {fence['reason']}")
    dropped = info["dropped"]
    if dropped:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(dropped.items()))
        console.print(f"dropped packets: {counts}", markup=False)
    else:
        console.print("dropped packets: none")
