"""The mail after updates (MG-2 Updates; seed 5.1.1: "Nach dem Einspielen erfolgt eine
Benachrichtigung per E-Mail"): an event of kind `updates` in the node's event log when an
"install updates" job ends, which the notifier mails like every other event (NT-1).

The web records it rather than mailing itself so that the mail has the queue's guarantees
(kept on disk while the relay is down, never sent twice) and the operator's choice of
kinds applies. The node that ran the job records it, so that the other node never mails it
as well. How many packages: apt-get's own summary line, as the job's output shows it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from tandem.eventlog.log import Event, record
from tandem.web.jobs import Job

SUMMARY = re.compile(r"^(\d+) upgraded, (\d+) newly installed, \d+ to remove")
TAIL = 5  # lines of output a failure's mail shows


def packages_installed(lines: Iterable[str]) -> int | None:
    """Upgraded plus newly installed, from apt-get's summary; None without one."""
    for line in lines:
        match = SUMMARY.match(line.strip())
        if match:
            return int(match.group(1)) + int(match.group(2))
    return None


def describe(where: str, job: Job) -> tuple[str, str, dict[str, object]]:
    """The event's sentence, severity and details for an ended "install updates" job."""
    count = packages_installed(job.lines)
    packages = "no package count in apt's output" if count is None else (
        f"{count} package{'' if count == 1 else 's'}")  # fmt: skip
    code = "none (not started)" if job.exit_code is None else str(job.exit_code)
    details: dict[str, object] = {"where": where, "packages": count, "exit_code": job.exit_code,
                                  "job": job.id, "command": job.title}  # fmt: skip
    if job.state == "done":
        return f"updates installed on {where}: {packages}, exit code {code}", "info", details
    details["output"] = " | ".join(job.lines[-TAIL:])
    return f"installing updates on {where} failed: {packages}, exit code {code}", "warning", details


def recorder(log: Path, node: str, where: str) -> Callable[[Job], Event]:
    """What a job calls when it ends: the event in this node's log."""

    def on_end(job: Job) -> Event:
        sentence, severity, details = describe(where, job)
        return record(node, "updates", sentence, severity=severity, details=details, path=log)

    return on_end
