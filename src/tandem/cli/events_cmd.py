"""`tandem events`: the node's event log, readably (CM-5, NT-1)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from tandem.cli.output import console, print_json
from tandem.eventlog.log import Event, read
from tandem.rootdir import Root

COLOUR = {"info": "", "warning": "yellow", "critical": "bold red"}


def events(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per event.")] = False,
    count: Annotated[int, typer.Option("-n", "--lines", help="How many of the last events.")] = 20,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Go on printing new events until Ctrl-C.")
    ] = False,
    root: Annotated[Path, typer.Option("--root", hidden=True)] = Path("/"),
) -> None:
    """List this node's events: time, node, kind, sentence, and each step's duration."""
    log_file = Root(root).state / "events.jsonl"
    shown = read(log_file, limit=count)
    if as_json and not follow:
        print_json([e.to_json() for e in shown])
        return
    for event in shown:
        _show(event, as_json)
    if not follow:
        if not shown and not as_json:
            console.print(f"no events in {log_file}", markup=False)
        return
    last = shown[-1].id if shown else None
    try:
        while True:
            time.sleep(0.5)
            new = read(log_file, since=last) if last else read(log_file)
            for event in new:
                _show(event, as_json)
                last = event.id
    except KeyboardInterrupt:
        return


def _show(event: Event, as_json: bool) -> None:
    if as_json:
        import json

        print(json.dumps(event.to_json()), flush=True)
        return
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.time))
    colour = COLOUR.get(event.severity, "")
    sentence = event.sentence.replace("[", "\\[")
    kind = f"[{colour}]{event.kind}[/]" if colour else event.kind
    console.print(f"{stamp}  {event.node}  {kind}  {sentence}")
    reason = event.details.get("reason")
    if reason and str(reason) not in event.sentence:
        console.print(f"    reason: {reason}", markup=False)
    for step in event.steps:
        outcome = "ok" if step.ok else f"FAILED {step.detail}".strip()
        console.print(f"    {step.name:<28}{step.seconds:8.3f} s  {outcome}", markup=False)
    if event.steps:
        console.print(f"    {'total':<28}{event.total_seconds:8.3f} s", markup=False)
