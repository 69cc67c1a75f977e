"""`tandem notify`: the mail notifier (NT-1): its daemon, a test mail, its queue."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Annotated

import typer

from tandem import logs
from tandem.cli.daemon import run_until_stopped
from tandem.cli.output import console, fail, print_json
from tandem.rootdir import Root

app = typer.Typer(help="Mail on every event (NT-1): the notifier, a test mail, the queue.")

RootOpt = Annotated[
    Path,
    typer.Option("--root", hidden=True, help="Use /etc/tandem, /var/lib/tandem, ... below DIR."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@app.command("run")
def run_(root: RootOpt = Path("/")) -> None:
    """Turn events into mails and deliver them until SIGTERM (started by the node)."""
    from tandem.notify.notifier import Notifier

    logs.setup("notify")
    run_until_stopped(Notifier(Root(root)).run)


@app.command("test")
def test(
    root: RootOpt = Path("/"),
    as_json: JsonOpt = False,
) -> None:
    """Send a test mail now, past the queue; print where it went or why it did not."""
    from tandem.notify import compose
    from tandem.notify.notifier import Notifier, read_password, sender_of
    from tandem.notify.transport import DeliveryFailed, deliver

    notifier = Notifier(Root(root))
    setup = notifier.setup()
    if isinstance(setup, str):
        fail(f"no test mail: {setup}")
    cfg, node = setup
    n = cfg.notification
    if not n.address:
        fail("no test mail: no addresses in [notification] address")
    hostname = socket.gethostname()
    sender = sender_of(cfg, hostname)
    msg = compose.test_message(
        cluster=cfg.cluster.name, hostname=hostname, node=node, sender=sender,
        recipients=list(n.address), lang=n.language,
    )  # fmt: skip
    try:
        done = asyncio.run(deliver(msg, sender, list(n.address), n, read_password(Root(root))))
    except DeliveryFailed as exc:
        if as_json:
            print_json({"ok": False, "error": str(exc)})
            raise typer.Exit(1) from None
        fail(f"the test mail was not delivered: {exc}")
    if as_json:
        print_json({"ok": True, "via": done.via, "to": done.accepted, "refused": done.refused})
        return
    console.print(f"test mail accepted by {done.via} for {', '.join(done.accepted)}", markup=False)
    for rcpt, why in done.refused.items():
        console.print(f"[red]refused for {rcpt}:[/] {why}")


def _ago(when: float | None) -> str:
    if when is None:
        return "never"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))
    return f"{stamp} ({time.time() - when:.0f} s ago)"


@app.command()
def status(root: RootOpt = Path("/"), as_json: JsonOpt = False) -> None:
    """Queue length, the last mail sent, the last error."""
    from tandem.notify.queue import MailQueue

    queue = MailQueue(Root(root).state / "mail")
    info = queue.status()
    pending = queue.pending() if queue.pending_dir.exists() else []
    data = {
        "queue": len(pending),
        "oldest": None if not pending else {"event_id": pending[0].event_id,
                                            "subject": pending[0].subject,
                                            "attempts": pending[0].attempts,
                                            "last_error": pending[0].last_error},
        "cursor": queue.cursor(),
        "last_sent": info.get("last_sent"),
        "last_error": info.get("last_error"),
        "waiting": info.get("waiting"),
        "counts": info.get("counts", {}),
    }  # fmt: skip
    if as_json:
        print_json(data)
        return
    console.print(f"queue: {data['queue']} mail(s) waiting", markup=False)
    if pending:
        head = pending[0]
        console.print(f"  oldest: {head.subject} ({head.attempts} attempts)", markup=False)
    sent = info.get("last_sent")
    console.print(
        "last sent: "
        + (f"{_ago(sent['time'])}: {sent['subject']} via {sent['via']}" if sent else "never"),
        markup=False,
    )
    error = info.get("last_error")
    if error:
        console.print(f"last error: {_ago(error['time'])}: {error['error']}", markup=False)
    if info.get("waiting"):
        console.print(f"waiting: {info['waiting']}", markup=False)
    passed = data["counts"].get("not_chosen")
    if passed:
        console.print(f"not mailed: {passed} event(s) of kinds not chosen in [notification] "
                      "events", markup=False)  # fmt: skip
