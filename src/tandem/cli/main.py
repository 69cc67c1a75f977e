"""The root of the `tandem` command."""

from __future__ import annotations

from typing import Annotated

import typer

from tandem import __version__
from tandem.cli import (
    config_cmd,
    crm_cmd,
    events_cmd,
    hardware_cmd,
    init_cmd,
    lab_cmd,
    links_cmd,
    membership_cmd,
    node_cmd,
    notify_cmd,
    status_cmd,
    support_cmd,
    template_cmd,
    ve_cmd,
    volume_cmd,
    web_cmd,
)
from tandem.cli.output import err_console
from tandem.errors import TandemError

app = typer.Typer(
    help="tandem: a two-node active/passive high-availability cluster for containers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command()(init_cmd.init)
app.add_typer(config_cmd.app, name="config")
app.add_typer(lab_cmd.app, name="lab")
app.add_typer(node_cmd.app, name="node")
app.add_typer(membership_cmd.app, name="membership")
app.add_typer(membership_cmd.witness_app, name="witness")
app.add_typer(volume_cmd.app, name="volume")
app.command()(status_cmd.status)
app.add_typer(web_cmd.app, name="web")
app.add_typer(ve_cmd.app, name="ve")
app.add_typer(template_cmd.app, name="template")
app.add_typer(template_cmd.cache_app, name="template-cache")
app.add_typer(links_cmd.app, name="links")
app.add_typer(notify_cmd.app, name="notify")
app.command()(events_cmd.events)
app.add_typer(support_cmd.app, name="support")
app.add_typer(hardware_cmd.app, name="hardware")
app.add_typer(crm_cmd.app, name="crm")
app.command()(crm_cmd.switchover)


def _version(value: bool) -> None:
    if value:
        print(f"tandem {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """tandem: a two-node active/passive high-availability cluster for containers."""


def main() -> None:
    try:
        app()
    except TandemError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        raise SystemExit(1) from None
