"""Progress of long operations in the terminal: a bar on a terminal, a few plain lines
otherwise (logs and pipes stay readable)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from tandem.cli.output import err_console
from tandem.containers.progress import Event, Report


@contextlib.contextmanager
def reporter() -> Iterator[Report]:
    if not sys.stderr.isatty():
        yield _plain()
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def report(event: Event) -> None:
        if event.total is not None:
            if event.phase not in tasks:
                tasks[event.phase] = bar.add_task(event.phase, total=event.total)
            bar.update(tasks[event.phase], completed=event.done or 0, total=event.total)
        elif event.done is None:
            bar.console.print(event.phase, markup=False)
        else:
            if "status" not in tasks:
                tasks["status"] = bar.add_task("", total=None)
            bar.update(tasks["status"], description=event.phase[:70])

    with bar:
        yield report


PLAIN_MINIMUM = 64 * 1024**2  # smaller transfers are over before a line would help


def _plain() -> Report:
    last: dict[str, int] = {}

    def report(event: Event) -> None:
        if event.total:
            if event.total < PLAIN_MINIMUM:
                return
            percent = 100 * (event.done or 0) // event.total
            step = percent // 25 * 25
            if last.get(event.phase, -1) < step:
                last[event.phase] = step
                err_console.print(f"{event.phase}: {step}%", markup=False)
        elif event.done is None:
            err_console.print(event.phase, markup=False)

    return report
