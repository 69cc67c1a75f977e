"""Small file-system helpers shared by every area: writing files so that a crash leaves
the old content or the new, never half of either; the mount points of this namespace."""

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    """Write to a temporary file beside `path`, fsync it, rename it over `path`, fsync the
    directory; the file has `mode` from its first byte, so a secret is never world-readable."""
    payload = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def mountpoints() -> list[Path]:
    """Mount points of this mount namespace (bind mounts included, unlike os.path.ismount)."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4]
        found.append(Path(point.encode().decode("unicode_escape")))
    return found
