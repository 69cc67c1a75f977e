"""This node's version information for the Home page (MG-2, seed 5.1.1 Home): host name,
kernel, hardware id, container runtime and tandem version."""

from __future__ import annotations

import platform
import shutil
import socket
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

from tandem import __version__

HARDWARE_ID_SOURCES = (Path("/sys/class/dmi/id/product_uuid"), Path("/etc/machine-id"))


def hardware_id() -> str | None:
    """The board's UUID where the firmware gives one (root only), else the machine id."""
    for source in HARDWARE_ID_SOURCES:
        try:
            value = source.read_text().strip()
        except OSError:
            continue
        if value:
            return value
    return None


@cache
def container_runtime() -> str | None:
    if shutil.which("lxc-start") is None:
        return None
    try:
        proc = subprocess.run(
            ["lxc-start", "--version"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = proc.stdout.strip()
    return f"LXC {version}" if proc.returncode == 0 and version else None


def node_info(node: str) -> dict[str, Any]:
    return {
        "node": node,
        "hostname": socket.gethostname(),
        "kernel": platform.release(),
        "hardware_id": hardware_id(),
        "container_runtime": container_runtime(),
        "tandem": __version__,
    }
