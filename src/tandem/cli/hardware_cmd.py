"""`tandem hardware`: readings of fans, temperatures, power supplies, RAID and disks (OP-8)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tandem import logs
from tandem.cli.daemon import run_until_stopped
from tandem.cli.output import console, print_json
from tandem.rootdir import Root

app = typer.Typer(help="Hardware and RAID (OP-8): readings now, and the monitor daemon.")

RootOpt = Annotated[Path, typer.Option("--root", hidden=True)]


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Probe now: every reading, or "not available" with the reason."""
    from tandem.hardware.monitor import SECTIONS, is_bad, states
    from tandem.hardware.probe import probe

    reading = probe()
    if as_json:
        print_json(reading)
        return
    flat = states(reading)
    for section, title in SECTIONS.items():
        part: dict[str, Any] = reading[section]
        if not part["available"]:
            console.print(f"{title}: not available ({part['reason']})", markup=False)
            continue
        console.print(f"{title}:", markup=False)
        for key, state in flat.items():
            if key.startswith(f"{'disk' if section == 'disks' else section} "):
                mark = "[bold red]![/]" if is_bad(key, state) else " "
                console.print(f" {mark} {key.split(' ', 1)[1]}: {state}")
        for r in part.get("readings", ()):
            console.print(f"     {r['name']} = {r['value']}", markup=False)


@app.command("run")
def run_(
    root: RootOpt = Path("/"),
    period: Annotated[float, typer.Option(help="Seconds between probes.")] = 60.0,
) -> None:
    """Probe periodically and record every change as an event (started by the node)."""
    from tandem.hardware.monitor import Monitor

    logs.setup("hardware")
    run_until_stopped(lambda stop: Monitor(Root(root)).run(stop, period))
