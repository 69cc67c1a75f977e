"""Let the kernel keep more requests in flight on the volume's FUSE connection.

The loop device issues its direct I/O asynchronously, and FUSE sends such requests as
"background" requests, by default at most 12 at a time (max_background). Protocol C
answers a write only after the peer has it, so each request waits one round trip;
with 12 in flight the link idles. libfuse sets the limit only through its high-level
option parser, which pyfuse3 does not use, so the engine raises it after mounting
through the fusectl filesystem (/sys/fs/fuse/connections/<device>/), as root may.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from tandem.system.run import run

log = logging.getLogger("tandem.volume")

CONNECTIONS = Path("/sys/fs/fuse/connections")
MAX_BACKGROUND = 256  # requests the kernel may queue for us
CONGESTION = 192  # above this, writeback to the file waits


def raise_background(mountpoint: Path) -> str:
    """Best effort: returns a sentence for the log saying what was set or why not."""
    try:
        folder = CONNECTIONS / str(_device_minor(mountpoint))
        if not folder.exists() and not os.path.ismount(CONNECTIONS):
            run(["mount", "-t", "fusectl", "fusectl", str(CONNECTIONS)])
        (folder / "max_background").write_text(f"{MAX_BACKGROUND}\n")
        (folder / "congestion_threshold").write_text(f"{CONGESTION}\n")
    except Exception as exc:  # any failure only costs throughput
        return f"FUSE queue left at the kernel's default (12 requests): {exc}"
    return f"FUSE queue raised to {MAX_BACKGROUND} requests in flight"


def _device_minor(mountpoint: Path) -> int:
    """The connection's number, from mountinfo: a stat() of our own mountpoint would be
    a FUSE request to this very process, which is not serving yet (a deadlock)."""
    found = [
        int(fields[2].split(":")[1])
        for fields in map(str.split, Path("/proc/self/mountinfo").read_text().splitlines())
        if fields[4] == str(mountpoint)
    ]
    if not found:
        raise LookupError(f"{mountpoint} is not in /proc/self/mountinfo")
    return found[-1]  # the newest mount on that path is ours
