"""Running the tools (OP-8). Each section is probed on its own with a timeout; a tool that
is not installed, a controller that does not answer, a machine without RAID: each one is
"not available" with its reason, never an exception."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from tandem.hardware import readings
from tandem.hardware.readings import missing

TIMEOUT = 5.0
MDSTAT = Path("/proc/mdstat")


def _run(argv: list[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def ipmi() -> dict[str, Any]:
    if shutil.which("ipmitool") is None:
        return missing("ipmitool is not installed")
    proc = _run(["ipmitool", "sdr", "elist"])
    if proc is None or proc.returncode != 0:
        return missing("no IPMI controller answers")
    return readings.ipmi_sdr(proc.stdout)


def sensors() -> dict[str, Any]:
    if shutil.which("sensors") is None:
        return missing("lm-sensors is not installed")
    proc = _run(["sensors", "-j"])
    if proc is None or proc.returncode != 0:
        return missing("no sensors found")
    return readings.sensors_json(proc.stdout)


def raid(mdstat: Path = MDSTAT) -> dict[str, Any]:
    try:
        text = mdstat.read_text()
    except OSError:
        return missing("no software RAID (no /proc/mdstat)")
    result = readings.mdstat(text)
    if result["available"] and shutil.which("mdadm") is not None:
        for array in result["arrays"]:
            proc = _run(["mdadm", "--detail", f"/dev/{array['name']}"])
            if proc is not None and proc.returncode == 0:
                array["detail"] = readings.mdadm_detail(proc.stdout)
    return result


def disks() -> dict[str, Any]:
    if shutil.which("smartctl") is None:
        return missing("smartmontools is not installed")
    scan = _run(["smartctl", "--scan"])
    if scan is None or scan.returncode != 0 or not scan.stdout.strip():
        return missing("no disks with SMART found")
    results = []
    for line in scan.stdout.splitlines():
        device = line.split()[0] if line.split() else ""
        if not device.startswith("/dev/"):
            continue
        health = _run(["smartctl", "-H", device])
        state = readings.smart_health(health.stdout) if health is not None else "unknown"
        results.append({"device": device, "health": state})
    if not results:
        return missing("no disks with SMART found")
    return {"available": True, "disks": results}


def probe() -> dict[str, Any]:
    return {"ipmi": ipmi(), "sensors": sensors(), "raid": raid(), "disks": disks()}
