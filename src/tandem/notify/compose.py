"""An event as a mail, in German or English as configured (NT-1).

The subject is the event's own sentence behind the cluster's name, so a mail client's list
reads like the event log; the body adds when and where, the reason, each step with its
duration, the details, and which of the operator's kinds of events brought the mail. The
sentence itself is what the deciding code wrote (English); everything around it is in the
configured language (catalog: locale/de/.../notify.po).
"""

from __future__ import annotations

import gettext
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import cache
from pathlib import Path

from tandem import __version__
from tandem.eventlog.log import Event
from tandem.notify.kinds import kind_of

LOCALE_DIR = Path(__file__).parent / "locale"
SUBJECT_MAX = 160


def N_(text: str) -> str:  # noqa: N802 (gettext's conventional name)
    return text


SEVERITY = {"info": N_("info"), "warning": N_("warning"), "critical": N_("critical")}
# The operator's kinds of events (kinds.py), as the Notification page names them.
KIND_LABELS = {
    "failover": N_("Failover and switchover"),
    "updates": N_("Updates"),
    "paths": N_("Heartbeat paths"),
    "replication": N_("Replication"),
    "containers": N_("Containers"),
    "hardware": N_("Hardware"),
    "disks": N_("Disks and RAID"),
    "other": N_("Other events"),
}


@cache
def translations(lang: str) -> gettext.NullTranslations:
    from tandem.web.i18n import catalog

    return catalog(LOCALE_DIR / lang / "LC_MESSAGES" / "notify.po", lang)


def subject(event: Event, cluster: str, lang: str) -> str:
    _ = translations(lang).gettext
    text = event.sentence if event.node in event.sentence else f"{event.node}: {event.sentence}"
    if event.severity != "info":
        text = f"{_(SEVERITY[event.severity]).upper()}: {text}"
    text = " ".join(text.split())
    if len(text) > SUBJECT_MAX:
        text = text[: SUBJECT_MAX - 3].rstrip() + "..."
    return f"[tandem {cluster}] {text}"


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z (%z)", time.localtime(seconds))


def body(event: Event, hostname: str, lang: str) -> str:
    _ = translations(lang).gettext
    lines = [event.sentence, ""]
    rows = [
        (_("Time"), _when(event.time)),
        (_("Node"), _("{node} (host {host})").format(node=event.node, host=hostname)),
        (_("Event"), f"{event.kind} ({_(SEVERITY.get(event.severity, event.severity))})"),
    ]
    details = dict(event.details)
    reason = details.pop("reason", None)
    if reason:
        rows.append((_("Reason"), str(reason)))
    width = max(len(label) for label, _v in rows) + 2
    lines += [f"{label + ':':<{width}}{value}" for label, value in rows]
    if event.steps:
        lines += ["", _("Steps (total {seconds:.3f} s):").format(seconds=event.total_seconds)]
        name_width = max(len(s.name) for s in event.steps) + 2
        for step in event.steps:
            outcome = _("ok") if step.ok else _("failed")
            extra = f"  {step.detail}" if step.detail else ""
            lines.append(f"  {step.name:<{name_width}}{step.seconds:8.3f} s  {outcome}{extra}")
    shown = {k: v for k, v in details.items() if k not in ("scope", "dedupe", "mail")}
    if shown:
        lines += ["", _("Details:")]
        lines += [f"  {key}: {value}" for key, value in shown.items()]
    # Whoever wants fewer mails learns here where to say so.
    label = _(KIND_LABELS[kind_of(event)])
    lines += [
        "",
        "-- ",
        _("Event {id}; tandem {version} on {host}. `tandem events` on the node lists every "
          "event.").format(id=event.id, version=__version__, host=hostname),
        _("Mailed because \"{kind}\" is chosen on the Notification page (notification.events)."
          ).format(kind=label),
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def message(
    event: Event, *, cluster: str, hostname: str, sender: str, recipients: list[str], lang: str
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject(event, cluster, lang)
    msg["Date"] = format_datetime(datetime.fromtimestamp(event.time, UTC))
    # The same event gives the same Message-ID: a mail sent again after a crash in the
    # moment between the server's "accepted" and the queue's removal is recognisable.
    msg["Message-ID"] = f"<{event.id}.{cluster}@tandem.invalid>"
    msg["X-Tandem-Event"] = event.id
    msg["X-Tandem-Kind"] = event.kind
    msg["X-Tandem-Severity"] = event.severity
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body(event, hostname, lang))
    return msg


def test_message(
    *, cluster: str, hostname: str, node: str, sender: str, recipients: list[str], lang: str
) -> EmailMessage:
    _ = translations(lang).gettext
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = f"[tandem {cluster}] " + _("test mail from {node}").format(node=node)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid("tandem-test")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(
        _("This is a test mail from {node} (host {host}) of cluster {cluster}. Mail from "
          "tandem reaches you.").format(node=node, host=hostname, cluster=cluster)
        + "\n"
    )  # fmt: skip
    return msg
