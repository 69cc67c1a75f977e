"""`tandem membership` and `tandem witness`: the heartbeat daemon, the witness, and what
the failover logic asks of membership (claim, release)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from tandem import logs, paths, rpc
from tandem.cli.output import console, fail, print_json

app = typer.Typer(help="Heartbeat membership: peer and path liveness, ping nodes, quorum.")
witness_app = typer.Typer(help="The witness: the third vote on a third host (HB-6).")

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@app.command("run")
def run_() -> None:
    """Run this node's membership daemon (the node supervisor starts it)."""
    from tandem.membership.daemon import MembershipDaemon, load

    logs.setup("membership")
    cfg, node, key, digest = load()
    asyncio.run(MembershipDaemon(cfg, node, key, digest).run())


def _ask(op: str, **args: Any) -> dict[str, Any]:
    from tandem.membership.daemon import SOCKET

    try:
        return rpc.call(SOCKET, op, **args)
    except rpc.RpcUnavailable as exc:
        fail(f"membership is not running on this node: {exc}")


@app.command()
def claim() -> None:
    """Claim the service group for this node (what the failover logic does)."""
    info = _ask("want", want=True)
    group = info["service_group"]
    console.print(f"claimed; granted: {group['granted']} ({group['reason']})", markup=False)


@app.command()
def release(
    stopped: Annotated[
        bool, typer.Option(help="Also report that every service of the group has stopped.")
    ] = False,
) -> None:
    """Give up the claim; with --stopped, report that the services are down."""
    if stopped:
        _ask("released")
    info = _ask("want", want=False)
    group = info["service_group"]
    console.print(f"released; granted: {group['granted']}", markup=False)


@witness_app.command("run")
def witness_run(
    listen: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",  # noqa: S104
    port: Annotated[int, typer.Option(help="UDP port.")] = 5403,
    key: Annotated[Path, typer.Option(help="The cluster key file (copy it from a node).")] = (
        paths.SECRETS_DIR / "cluster.key"
    ),
    lease: Annotated[
        float,
        typer.Option(help="Lease in seconds: the cluster's deadtime plus its stop budget."),
    ] = 3.0,
    keepalive: Annotated[float, typer.Option(help="The cluster's keepalive.")] = 0.2,
    state: Annotated[
        Path,
        typer.Option(help="Where the witness records which volume replica is Outdated."),
    ] = paths.STATE_DIR / "witness.json",
) -> None:
    """Run the witness on a third host; give it the nodes' cluster key and timing."""
    from tandem.config.secrets import read_cluster_key
    from tandem.membership.witness import WitnessDaemon

    logs.setup("witness")
    daemon = WitnessDaemon(read_cluster_key(key), listen, port, lease, keepalive, state_file=state)
    asyncio.run(daemon.run())


@witness_app.command("status")
def witness_status(as_json: JsonOpt = False) -> None:
    """Who holds the witness's vote, and for how long."""
    from tandem.membership.witness import WITNESS_SOCKET

    try:
        info = rpc.call(WITNESS_SOCKET, "status")
    except rpc.RpcUnavailable as exc:
        fail(f"no witness runs here: {exc}")
    if as_json:
        print_json(info)
        return
    holder = info["holder"] or "nobody"
    console.print(
        f"witness on {info['listen']}:{info['port']}: vote held by {holder}", markup=False
    )
    if info["holder"]:
        console.print(f"  lease runs for {info['remaining']:.1f} s more", markup=False)
    if info["grace"]:
        console.print(f"  just started: grants nothing for {info['grace']:.1f} s", markup=False)
    for reason, count in info["dropped"].items():
        console.print(f"  dropped {count} packets: {reason}", markup=False)
