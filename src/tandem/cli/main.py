"""The root of the `tandem` command.

Subcommands are imported only when they are called: each area's module pulls in what it
needs (pydantic models, cryptography, the container manager, ...), and importing all of
them cost about a second and a half before any command ran. That second was paid by
every operator command, by the HA loop's and the web's calls of the command line, and
hundreds of times by the lab tests. `tandem --help` still lists every command (and
imports them all to read their help).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from typer._click import Command, Context  # Typer vendors click; its commands are of this one
from typer.core import TyperGroup

from tandem import __version__


@dataclass(frozen=True)
class Entry:
    """Where a subcommand lives: a Typer app, or one command function."""

    module: str
    attribute: str = "app"


COMMANDS: dict[str, Entry] = {
    "init": Entry("tandem.cli.init_cmd", "init"),
    "config": Entry("tandem.cli.config_cmd"),
    "lab": Entry("tandem.cli.lab_cmd"),
    "node": Entry("tandem.cli.node_cmd"),
    "membership": Entry("tandem.cli.membership_cmd"),
    "witness": Entry("tandem.cli.membership_cmd", "witness_app"),
    "volume": Entry("tandem.cli.volume_cmd"),
    "status": Entry("tandem.cli.status_cmd", "status"),
    "web": Entry("tandem.cli.web_cmd"),
    "ve": Entry("tandem.cli.ve_cmd"),
    "template": Entry("tandem.cli.template_cmd"),
    "template-cache": Entry("tandem.cli.template_cmd", "cache_app"),
    "links": Entry("tandem.cli.links_cmd"),
    "notify": Entry("tandem.cli.notify_cmd"),
    "events": Entry("tandem.cli.events_cmd", "events"),
    "support": Entry("tandem.cli.support_cmd"),
    "hardware": Entry("tandem.cli.hardware_cmd"),
    "crm": Entry("tandem.cli.crm_cmd"),
    "switchover": Entry("tandem.cli.crm_cmd", "switchover"),
}


def load(name: str) -> Command | None:
    """The click command behind `name`, its module imported now."""
    entry = COMMANDS.get(name)
    if entry is None:
        return None
    found: Any = getattr(importlib.import_module(entry.module), entry.attribute)
    if isinstance(found, typer.Typer):
        command = typer.main.get_command(found)
    else:  # a single command function
        single = typer.Typer()
        single.command(name=name)(found)
        command = typer.main.get_command(single)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """The root group: knows the names, imports a command when it is asked for."""

    def list_commands(self, ctx: Context) -> list[str]:
        del ctx
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        del ctx
        return load(cmd_name)


app = typer.Typer(
    cls=LazyGroup,
    help="tandem: a two-node active/passive high-availability cluster for containers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
    from tandem.errors import TandemError

    try:
        app()
    except TandemError as exc:
        from tandem.cli.output import err_console

        err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        raise SystemExit(1) from None
