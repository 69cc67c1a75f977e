"""`tandem hardware run`: probe every minute, record an event on every change (OP-8, NT-1).

A probe is flattened into states, one per thing an operator cares about ("ipmi Fan1" ->
"cr", "raid md0" -> "active raid1 degraded [U_]", "disk /dev/sda" -> "FAILED", "tool
ipmi" -> "available"); the last states are kept in /var/lib/tandem/hardware.json, so a
restart of the monitor raises nothing that did not change, and a change while it was down
is raised at its start. At the very first start only what is bad already is raised.
Which changes are how severe is decided by `changes()`, a plain function tested with
recorded outputs of the tools.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tandem.config import InvalidConfig, load_config
from tandem.eventlog import log as events
from tandem.fsutil import atomic_write
from tandem.hardware.probe import probe
from tandem.rootdir import Root

log = logging.getLogger(__name__)

PERIOD = 60.0
SECTIONS = {"ipmi": "ipmitool (fans, temperatures, power supplies)",
            "sensors": "lm-sensors", "raid": "software RAID", "disks": "smartctl"}  # fmt: skip
BAD_IPMI = ("cr", "nr", "nc", "lnc", "unc", "lcr", "ucr", "lnr", "unr", "failed")
FAILED_VALUE = re.compile(r"fail|AC lost|predictive", re.IGNORECASE)


@dataclass(frozen=True)
class Change:
    key: str
    before: str | None
    after: str | None
    severity: str
    sentence: str


def states(reading: dict[str, Any]) -> dict[str, str]:
    """One state string per tool, sensor, array and disk."""
    out: dict[str, str] = {}
    for section in SECTIONS:
        part = reading.get(section, {})
        out[f"tool {section}"] = "available" if part.get("available") else "not available"
        if not part.get("available"):
            continue
        for r in part.get("readings", ()):
            status = str(r.get("status") or "ok")
            # A discrete sensor (a power supply) says "ok" and puts its trouble in the value.
            if status == "ok" and FAILED_VALUE.search(str(r.get("value", ""))):
                status = "failed"
            out[f"{section} {r['name']}"] = status
        for a in part.get("arrays", ()):
            phase = (a.get("progress") or "").split(" ")[0]
            health = "degraded" if a.get("degraded") else "healthy"
            text = f"{a['state']} {a['level']} {health} [{a.get('disks') or '?'}]"
            out[f"raid {a['name']}"] = text + (f" {phase}" if phase else "")
        for d in part.get("disks", ()):
            out[f"disk {d['device']}"] = str(d["health"])
    return out


def is_bad(key: str, state: str) -> bool:
    kind = key.split(" ", 1)[0]
    if kind == "ipmi":
        return state in BAD_IPMI
    if kind == "sensors":
        return state != "ok"
    if kind == "raid":
        return "degraded" in state or not state.startswith("active")
    if kind == "disk":
        return state == "FAILED"
    return False


def changes(old: dict[str, str] | None, new: dict[str, str]) -> list[Change]:
    """What changed between two probes, each as a sentence with its severity."""
    if old is None:  # the very first probe: only what is bad already
        return [Change(k, None, s, "critical", f"{_name(k)} is {s} ({_what(k)})")
                for k, s in sorted(new.items()) if is_bad(k, s)]  # fmt: skip
    found = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if key.startswith("tool "):
            title = SECTIONS[key.split(" ", 1)[1]]
            if after == "available":
                found.append(Change(key, before, after, "info", f"{title}: readings available now"))
            else:
                sentence = f"{title}: readings no longer available"
                found.append(Change(key, before, after, "warning", sentence))
            continue
        if after is None or before is None:
            continue  # appears or goes with its tool (said above), or a new device at boot
        if is_bad(key, after):
            severity, verb = "critical", f"is {after}"
        elif is_bad(key, before):
            severity, verb = "info", f"is {after} again"
        else:
            severity, verb = "info", f"is {after}"
        found.append(Change(key, before, after, severity, f"{_name(key)} {verb} (was {before})"))
    return found


def _name(key: str) -> str:
    kind, _, name = key.partition(" ")
    return {"ipmi": f"IPMI sensor {name}", "sensors": f"sensor {name}", "raid": f"RAID {name}",
            "disk": f"disk {name}: SMART health"}.get(kind, key)  # fmt: skip


def _what(key: str) -> str:
    kind = key.split(" ", 1)[0]
    return {"ipmi": "fans, temperatures, power supplies", "sensors": "lm-sensors",
            "raid": "software RAID", "disk": "smartctl"}.get(kind, kind)  # fmt: skip


class Monitor:
    def __init__(
        self,
        root: Root | None = None,
        *,
        probe_fn: Callable[[], dict[str, Any]] = probe,
        hostname: str | None = None,
    ) -> None:
        self.root = root or Root()
        self.probe_fn = probe_fn
        self.state_file = self.root.state / "hardware.json"
        self.hostname = hostname or socket.gethostname()

    def _node(self) -> str:
        try:
            cfg = load_config(self.root.config)
        except InvalidConfig:
            return self.hostname
        return cfg.node_by_hostname(self.hostname) or self.hostname

    def _last(self) -> dict[str, str] | None:
        try:
            data = json.loads(self.state_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return {str(k): str(v) for k, v in data["states"].items()}

    def check(self) -> list[Change]:
        """Probe once; record and return the changes since the last probe."""
        reading = self.probe_fn()
        now = states(reading)
        found = changes(self._last(), now)
        node = self._node()
        for change in found:
            log.info("%s", change.sentence)
            events.record(node, "hardware", change.sentence, severity=change.severity,
                          details={"item": change.key, "before": change.before,
                                   "after": change.after},
                          path=self.root.state / "events.jsonl")  # fmt: skip
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.state_file, json.dumps({"states": now, "reading": reading}) + "\n")
        return found

    async def run(self, stop: asyncio.Event, period: float = PERIOD) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.check)
            except OSError as exc:
                log.warning("hardware check failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), period)


def last_reading(root: Root) -> dict[str, Any] | None:
    path: Path = root.state / "hardware.json"
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    reading = data.get("reading")
    return reading if isinstance(reading, dict) else None
