"""The tools' output as readings, without running anything (OP-8).

Each parser takes the text a tool printed and returns the section's readings in the shape
the web's Status page shows: {"available": True, ...} or {"available": False, "reason": ...}.
Tests feed them recorded outputs of real machines.
"""

from __future__ import annotations

import json
import re
from typing import Any

# ipmitool's sensor status: ok, and what its SDR list prints for thresholds crossed.
IPMI_STATUS = {"ok": "ok", "ns": "no reading", "nc": "non-critical", "cr": "critical",
               "nr": "non-recoverable", "lnc": "non-critical", "unc": "non-critical",
               "lcr": "critical", "ucr": "critical", "lnr": "non-recoverable",
               "unr": "non-recoverable"}  # fmt: skip


def missing(reason: str) -> dict[str, Any]:
    return {"available": False, "reason": reason}


def ipmi_sdr(text: str) -> dict[str, Any]:
    """`ipmitool sdr elist`: name | id | status | entity | value, one sensor a line."""
    readings = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 5 and parts[0]:
            readings.append({"name": parts[0], "status": parts[2], "value": parts[4]})
    if not readings:
        return missing("the IPMI controller lists no sensors")
    return {"available": True, "readings": readings}


def _unit(key: str) -> str:
    for prefix, unit in (("temp", "°C"), ("fan", "RPM"), ("in", "V"), ("power", "W")):
        if key.startswith(prefix):
            return unit
    return ""


def sensors_json(text: str) -> dict[str, Any]:
    """`sensors -j`: chip -> feature -> {tempN_input, tempN_crit, fanN_alarm, ...}."""
    try:
        data = json.loads(text)
    except ValueError:
        return missing("sensors gave no readable output")
    readings = []
    for chip, features in data.items() if isinstance(data, dict) else ():
        if not isinstance(features, dict):
            continue
        for feature, values in features.items():
            if not isinstance(values, dict):
                continue
            value_key = next((k for k in values if k.endswith("_input")), None)
            if value_key is None or not isinstance(values[value_key], (int, float)):
                continue
            value = values[value_key]
            status = "ok"
            if any(k.endswith("_fault") and v for k, v in values.items()):
                status = "fault"
            elif any(k.endswith("_alarm") and v for k, v in values.items()):
                status = "alarm"
            else:
                crit = values.get(value_key.replace("_input", "_crit"))
                if isinstance(crit, (int, float)) and crit > 0 and value >= crit:
                    status = "alarm"
            unit = _unit(value_key)
            readings.append({"name": f"{chip} {feature}", "value": f"{value:g} {unit}".strip(),
                             "status": status})  # fmt: skip
    if not readings:
        return missing("no sensors found")
    return {"available": True, "readings": readings}


def mdstat(text: str) -> dict[str, Any]:
    """/proc/mdstat: each array's state, level, member health ([UU], [U_]) and resync."""
    arrays = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^(md\S+)\s*:\s*(\S+)\s+(\S+)", line)
        if not match:
            continue
        detail = lines[i + 1] if i + 1 < len(lines) else ""
        health = re.search(r"\[([U_]+)\]", detail)
        progress = re.search(
            r"(resync|recovery|check|reshape)\s*=\s*([\d.]+%)", "\n".join(lines[i : i + 3])
        )
        arrays.append({
            "name": match.group(1),
            "state": match.group(2),
            "level": match.group(3),
            "disks": health.group(1) if health else None,
            "degraded": bool(health and "_" in health.group(1)) or "(F)" in line,
            "progress": f"{progress.group(1)} {progress.group(2)}" if progress else None,
        })  # fmt: skip
    if not arrays:
        return missing("no software RAID arrays")
    return {"available": True, "arrays": arrays}


def mdadm_detail(text: str) -> dict[str, Any]:
    """`mdadm --detail /dev/mdN`: its State line and the device counts."""
    fields: dict[str, Any] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(" : ")
        if sep:
            fields[key.strip()] = value.strip()
    counts = {}
    for name in ("Active Devices", "Working Devices", "Failed Devices", "Spare Devices"):
        if fields.get(name, "").isdigit():
            counts[name.split()[0].lower()] = int(fields[name])
    return {"state": fields.get("State"), **counts}


def smart_health(text: str) -> str:
    """`smartctl -H`: PASSED or FAILED (ATA), OK or the failure (SCSI/SAS), else unknown."""
    ata = re.search(r"overall-health self-assessment test result:\s*(\S+)", text)
    if ata:
        return "PASSED" if ata.group(1).startswith("PASSED") else "FAILED"
    scsi = re.search(r"SMART Health Status:\s*(.+)", text)
    if scsi:
        return "PASSED" if scsi.group(1).strip() == "OK" else "FAILED"
    return "unknown"
