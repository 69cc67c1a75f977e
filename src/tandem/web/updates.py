"""Updates of the base system with apt (MG-2 Updates, seed 5.5).

Listing reads apt's cache (`apt list --upgradable`); "check for updates" refreshes it
(`apt-get update`) and "apply" upgrades (`apt-get upgrade`, keeping changed configuration
files), both as jobs with live output. Each node is updated on its own; the rolling update
across both nodes (OP-5) needs switchover and comes with it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

LISTS = Path("/var/lib/apt/lists")
REFRESH = ["apt-get", "-q", "update"]
APPLY = [
    "apt-get", "-q", "-y",
    "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold",
    "upgrade",
]  # fmt: skip
KINDS = {"refresh": REFRESH, "apply": APPLY}
LINE = re.compile(
    r"^(?P<name>[^/\s]+)/(?P<suite>\S+)\s+(?P<version>\S+)\s+\S+\s+"
    r"\[upgradable from: (?P<old>[^\]]+)\]"
)


def parse(output: str) -> list[dict[str, Any]]:
    packages = []
    for line in output.splitlines():
        match = LINE.match(line.strip())
        if match:
            suite = match.group("suite")
            packages.append({
                "name": match.group("name"),
                "version": match.group("version"),
                "installed": match.group("old"),
                "suite": suite,
                "security": "security" in suite,
            })  # fmt: skip
    return packages


def upgradable(env: dict[str, str]) -> dict[str, Any]:
    if shutil.which("apt") is None:
        return {"available": False, "reason": "apt is not installed"}
    try:
        proc = subprocess.run(
            ["apt", "list", "--upgradable"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"PATH": "/usr/bin:/bin", **env},
        )
    except subprocess.TimeoutExpired:
        return {"available": False, "reason": "apt did not answer within 60 s"}
    if proc.returncode != 0:
        return {"available": False, "reason": proc.stderr.strip() or "apt failed"}
    try:
        checked: float | None = LISTS.stat().st_mtime
    except OSError:
        checked = None
    packages = parse(proc.stdout)
    return {
        "available": True,
        "checked": checked,
        "packages": packages,
        "security": sum(1 for p in packages if p["security"]),
    }
