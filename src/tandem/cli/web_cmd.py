"""`tandem web`: the web Cluster Management on this node (MG-1)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tandem import logs, paths
from tandem.cli.output import fail
from tandem.config import InvalidConfig
from tandem.errors import ConfigError

app = typer.Typer(help="The web Cluster Management: HTTPS pages and JSON API on each node.")


@app.callback()
def _group() -> None:
    """The web Cluster Management: HTTPS pages and JSON API on each node."""


def _bind(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise typer.BadParameter(f"{value!r}: expected ADDRESS:PORT like 127.0.0.1:8443")
    return host, int(port)


@app.command("run")
def run_(
    bind: Annotated[
        list[str] | None,
        typer.Option(
            help="ADDRESS:PORT to serve on (repeat) [default: this node's external "
            "and crossover addresses, port from [web]]."
        ),
    ] = None,
    etc_dir: Annotated[Path, typer.Option("--etc", help="Configuration directory.")] = (
        paths.ETC_DIR
    ),
    state_dir: Annotated[
        Path, typer.Option("--state", help="Where pending changes are kept.")
    ] = paths.STATE_DIR / "web",
    run_dir: Annotated[Path, typer.Option("--run", help="Where the daemons' sockets are.")] = (
        paths.RUN_DIR
    ),
    node: Annotated[
        str | None, typer.Option(help="node1 or node2 [default: found by host name].")
    ] = None,
    vz_dir: Annotated[
        Path, typer.Option("--vz", help="The containers' filesystem (mounted on the active node).")
    ] = paths.VZ_DIR,
) -> None:
    """Serve HTTPS until SIGTERM (the node supervisor runs this as service `web`)."""
    from tandem.web.server import serve
    from tandem.web.settings import WebSettings

    logs.setup("web")
    if node not in (None, "node1", "node2"):
        fail(f"--node {node!r}: expected node1 or node2", 2)
    settings = WebSettings(
        etc_dir=etc_dir,
        state_dir=state_dir,
        run_dir=run_dir,
        node=node,  # type: ignore[arg-type]
        vz_dir=vz_dir,
    )
    try:
        serve(settings, [_bind(b) for b in bind] if bind else None)
    except (InvalidConfig, ConfigError) as exc:
        fail(f"{exc}; the web starts when the configuration is fixed")
    except OSError as exc:
        fail(f"cannot serve: {exc}")
