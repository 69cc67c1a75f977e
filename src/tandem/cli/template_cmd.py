"""`tandem template` and `tandem template-cache`: OS templates in the template cache
(VE-4, seed 5.4) and its backup (VE-5, seed 5.6.2)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from tandem.cli.output import console, print_json
from tandem.cli.progress import reporter
from tandem.containers import templates
from tandem.containers.layout import Layout
from tandem.containers.units import human

app = typer.Typer(
    help="OS templates, built once into the template cache (/vz/template/cache).",
    no_args_is_help=True,
)
cache_app = typer.Typer(help="The template cache as a whole.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help=f"Template: {', '.join(templates.BUILDABLE)}.")]


def _layout() -> Layout:
    layout = Layout()
    layout.require_mounted()
    layout.ensure()
    return layout


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
) -> None:
    """The templates in the cache, and the ones that can be built."""
    found = templates.cached(_layout())
    if as_json:
        print_json([t.to_dict() for t in found])
        return
    names = {t.name for t in found}
    console.print(f"{'TEMPLATE':<12} {'SIZE':>10}  {'BUILT':<20} SOURCE", markup=False)
    for t in found:
        console.print(f"{t.name:<12} {human(t.size):>10}  {t.built:<20} {t.source}", markup=False)
    missing = [n for n in templates.BUILDABLE if n not in names]
    if missing:
        console.print(
            f"not built yet: {', '.join(missing)} (`tandem template build NAME`)", markup=False
        )


@app.command()
def build(
    name: NameArg,
    mirror: Annotated[
        str | None, typer.Option(help="Debian mirror [default: the node's APT sources].")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild a cached template.")] = False,
) -> None:
    """Build a template into the cache (busybox offline; debian-N with debootstrap)."""
    layout = _layout()
    started = time.monotonic()
    with reporter() as report:
        template = templates.build(layout, name, report, mirror=mirror, force=force)
    took = time.monotonic() - started
    console.print(
        f"template {template.name}: {human(template.size)} in the cache "
        f"({templates.archive_path(layout, name)}); took {took:.1f} s",
        markup=False,
    )


@app.command()
def remove(name: Annotated[str, typer.Argument(help="A cached template.")]) -> None:
    """Remove a template from the cache (containers made from it are not affected)."""
    templates.remove(_layout(), name)
    console.print(f"template {name} removed from the cache")


@cache_app.command("backup")
def cache_backup() -> None:
    """Save the whole template cache to /vz/backups/templatecache/ (seed 5.6.2)."""
    from tandem.containers import backup
    from tandem.containers.manager import Containers

    with reporter() as report:
        path = backup.backup_template_cache(Containers(), report)
    console.print(f"template cache saved to {path} ({human(path.stat().st_size)})", markup=False)


@cache_app.command("restore")
def cache_restore(archive: Annotated[str, typer.Argument(help="A template cache backup.")]) -> None:
    """Put the templates of a template cache backup back into the cache (seed 7.3)."""
    from pathlib import Path

    from tandem.containers import backup
    from tandem.containers.manager import Containers

    names = backup.restore_template_cache(Containers(), Path(archive))
    console.print(f"restored to the template cache: {', '.join(names)}", markup=False)
