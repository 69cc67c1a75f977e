"""`tandem init`: write a working cluster.toml and the cluster's secrets."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from tandem import paths
from tandem.cli.output import console, err_console
from tandem.config import InvalidConfig
from tandem.config.initialize import initialize
from tandem.errors import ConfigError


def init(
    node1_external: Annotated[str, typer.Option(help="node1's address on the external network.")],
    node2_external: Annotated[str, typer.Option(help="node2's address on the external network.")],
    cluster_name: Annotated[str, typer.Option(help="Name of the cluster.")] = "tandem",
    node1_hostname: Annotated[str, typer.Option(help="node1's host name.")] = "node1",
    node2_hostname: Annotated[str, typer.Option(help="node2's host name.")] = "node2",
    node1_crossover: Annotated[
        str, typer.Option(help="node1's crossover address.")
    ] = "192.168.255.1",
    node2_crossover: Annotated[
        str, typer.Option(help="node2's crossover address.")
    ] = "192.168.255.2",
    netmask: Annotated[str, typer.Option(help="Netmask of the external network.")] = (
        "255.255.255.0"
    ),
    gateway: Annotated[
        str | None, typer.Option(help="Default gateway on the external network.")
    ] = None,
    ping_node: Annotated[
        list[str] | None,
        typer.Option(help="A ping node (repeat for several); default: the gateway."),
    ] = None,
    profile: Annotated[str, typer.Option(help="Heartbeat timing profile: fast or seed.")] = (
        "fast"
    ),
    serial_device: Annotated[str, typer.Option(help="Serial heartbeat device.")] = ("/dev/ttyS0"),
    no_serial: Annotated[bool, typer.Option(help="Switch the serial heartbeat off.")] = False,
    no_external_heartbeat: Annotated[
        bool, typer.Option(help="Switch the heartbeat on the external network off.")
    ] = False,
    volume_size: Annotated[str, typer.Option(help="Size of the replicated volume.")] = ("8GiB"),
    web_port: Annotated[int, typer.Option(help="HTTPS port of the web management.")] = 443,
    directory: Annotated[Path, typer.Option("--dir", help="Where to write.")] = paths.ETC_DIR,
    force: Annotated[
        bool, typer.Option(help="Replace an existing cluster.toml (secrets are kept).")
    ] = False,
    new_secrets: Annotated[
        bool, typer.Option(help="Also make new secrets (both nodes then need the new ones).")
    ] = False,
) -> None:
    """Write /etc/tandem/cluster.toml and the secrets (cluster key, TLS key and
    certificate, admin password) under /etc/tandem/secrets with mode 0600.

    The admin password is taken from $TANDEM_ADMIN_PASSWORD, or generated and printed once.
    Copy the whole /etc/tandem to the other node afterwards.
    """
    pings = ping_node if ping_node else ([gateway] if gateway else [])
    data: dict[str, Any] = {
        "cluster": {"name": cluster_name},
        "node1": {
            "hostname": node1_hostname,
            "crossover": node1_crossover,
            "external": node1_external,
        },
        "node2": {
            "hostname": node2_hostname,
            "crossover": node2_crossover,
            "external": node2_external,
        },
        "network": {"netmask": netmask, **({"gateway": gateway} if gateway else {})},
        "heartbeat": {
            "profile": profile,
            "serial": {"enabled": not no_serial, "device": serial_device},
            "external": {"enabled": not no_external_heartbeat},
        },
        "ping": {"nodes": pings},
        "volume": {"size": volume_size},
        "web": {"port": web_port},
    }
    try:
        result = initialize(
            directory,
            data,
            admin_password=os.environ.get("TANDEM_ADMIN_PASSWORD") or None,
            force=force,
            new_secrets=new_secrets,
        )
    except InvalidConfig as exc:
        err_console.print(str(exc), soft_wrap=True, markup=False)
        raise typer.Exit(2) from None
    except ConfigError as exc:
        err_console.print(f"error: {exc}", soft_wrap=True, markup=False)
        raise typer.Exit(1) from None
    for path in result.written:
        console.print(f"wrote {path}", markup=False)
    for path in result.kept:
        console.print(f"kept  {path}", markup=False)
    if result.admin_password:
        console.print(
            f"web login: admin / {result.admin_password}  "
            "(change it on the Passwords page or with htpasswd -B)",
            markup=False,
        )
