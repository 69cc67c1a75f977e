"""`tandem links`: drbdlinks (DR-9): files outside /vz that follow the active node."""

from __future__ import annotations

from typing import Annotated

import typer

from tandem.cli.output import console, print_json
from tandem.containers import links
from tandem.containers.host import load_links
from tandem.containers.layout import Layout

app = typer.Typer(
    help="drbdlinks: files outside /vz (like /etc/lxc) kept on /vz and put in place on the "
    "active node.",
    no_args_is_help=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _show(found: list[links.Link], as_json: bool) -> None:
    if as_json:
        print_json([link.to_dict() for link in found])
        return
    for link in found:
        console.print(f"{link.state:<8} {link.path} -> {link.target}", markup=False)


@app.command()
def up(as_json: JsonOpt = False) -> None:
    """Put the links in place (on the node that has /vz)."""
    _show(links.up(Layout(), load_links()), as_json)


@app.command()
def down(as_json: JsonOpt = False) -> None:
    """Take the links away; the node's own files are back."""
    _show(links.down(Layout(), load_links()), as_json)


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Each link: up, down, or missing (nothing on /vz yet)."""
    _show(links.status(Layout(), load_links()), as_json)
