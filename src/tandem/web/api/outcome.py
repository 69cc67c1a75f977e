"""Saying exactly what happened on each node (DESIGN invariant 5), in the page's language."""

from __future__ import annotations

import gettext
from typing import Any

from tandem.web.changes import Outcome


def describe(_: gettext.NullTranslations, outcome: Outcome) -> dict[str, Any]:

    labels = {
        "applied": _.gettext("applied"),
        "unchanged": _.gettext("already so, nothing to do"),
        "pending": _.gettext("not reachable: kept and applied when the node is back"),
        "failed": _.gettext("failed"),
        "not_tried": _.gettext("not tried"),
    }
    lines = []
    for node, result in outcome.nodes.items():
        line = f"{node}: {labels[result.state]}"
        if result.restarted:
            line += (
                " ("
                + _.gettext("restarted: {services}").format(services=", ".join(result.restarted))
                + ")"
            )
        if result.detail and result.state != "pending":
            line += f" — {result.detail}"
        lines.append(line)
    states = {r.state for r in outcome.nodes.values()}
    nodes = " " + _.gettext("and") + " "
    if outcome.complete:
        message = _.gettext("Done on {nodes}.").format(nodes=nodes.join(outcome.nodes))
    elif states <= {"applied", "unchanged", "pending"}:
        pending = [n for n, r in outcome.nodes.items() if r.state == "pending"]
        message = _.gettext(
            "Saved, but {nodes} is not reachable: the change is kept and applied there "
            "as soon as it is back."
        ).format(nodes=", ".join(pending))
    else:
        failed = [n for n, r in outcome.nodes.items() if r.state in ("failed", "not_tried")]
        message = _.gettext("Not done on {nodes}; see below.").format(nodes=", ".join(failed))
    return {"message": message, "lines": lines, **outcome.as_dict()}
