"""`tandem support`: the remote support tunnel (OP-7)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from tandem import logs
from tandem.cli.daemon import run_until_stopped
from tandem.cli.output import console, fail, print_json
from tandem.rootdir import Root
from tandem.support.status import describe

app = typer.Typer(help="Remote support (OP-7): an outgoing SSH tunnel to the support host.")

RootOpt = Annotated[
    Path,
    typer.Option("--root", hidden=True, help="Use /etc/tandem, /run/tandem, ... below DIR."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _print(info: dict[str, Any]) -> None:
    if "problem" in info:
        console.print(f"remote support: off ({info['problem']})", markup=False)
        return
    if not info["configured"]:
        console.print(
            f"remote support: off (no support host is configured: [support] host in "
            f"{info['config']})",
            markup=False,
        )
        return
    where = f"{info['user']}@{info['host']}:{info['port']}"
    if not info["on"]:
        console.print(f"remote support: off (support host {where})", markup=False)
    else:
        colour = {"up": "green", "connecting": "yellow"}.get(info["state"], "red")
        since = time.strftime("%H:%M:%S", time.localtime(info.get("since") or time.time()))
        console.print(f"remote support: on, tunnel [{colour}]{info['state']}[/] since {since} "
                      f"to {where}, daemon pid {info['pid']}, ssh pid {info.get('ssh_pid')}, "
                      f"{info.get('reconnects', 0)} reconnects")  # fmt: skip
        console.print(f"  on the support host, port {info['remote_port']} on 127.0.0.1 leads to "
                      f"this node's SSH (port {info['local_port']})", markup=False)  # fmt: skip
        if info.get("last_error"):
            console.print(f"  last error: {info['last_error']}", markup=False)
    if info.get("public_key"):
        console.print(f"  support key (for the support host's authorized_keys): "
                      f"{info['public_key']}", markup=False)  # fmt: skip


@app.command()
def on(
    root: RootOpt = Path("/"),
    wait: Annotated[float, typer.Option(help="Seconds to wait for the tunnel.")] = 15.0,
    as_json: JsonOpt = False,
) -> None:
    """Open the tunnel (and keep it open, reconnecting, until `support off` or a reboot)."""
    from tandem.support.control import switch_on

    switch_on(Root(root), wait)
    info = describe(Root(root))
    if as_json:
        print_json(info)
        return
    _print(info)
    if info["state"] != "up":
        console.print("the tunnel is not up yet; it keeps trying (`tandem support status`)")


@app.command()
def off(root: RootOpt = Path("/")) -> None:
    """Close the tunnel."""
    from tandem.support.control import switch_off

    if switch_off(Root(root)):
        console.print("remote support: off, the tunnel is closed")
    else:
        console.print("remote support was not on")


@app.command()
def status(root: RootOpt = Path("/"), as_json: JsonOpt = False) -> None:
    """Whether the tunnel is on and up, where to, since when, and the support key."""
    info = describe(Root(root))
    if as_json:
        print_json(info)
    else:
        _print(info)


@app.command()
def key(root: RootOpt = Path("/")) -> None:
    """Print the cluster's public support key (made on first use) for the support host."""
    from tandem.config import InvalidConfig, load_config
    from tandem.support.tunnel import ensure_key

    try:
        cluster = load_config(Root(root).config).cluster.name
    except InvalidConfig as exc:
        fail(str(exc))
    console.print(ensure_key(Root(root), cluster), markup=False)


@app.command("run")
def run_(root: RootOpt = Path("/")) -> None:
    """The tunnel's daemon (started by `support on`; runs until SIGTERM)."""
    from tandem.support.tunnel import Tunnel

    logs.setup("support")
    tunnel = Tunnel(Root(root))
    run_until_stopped(tunnel.run)
