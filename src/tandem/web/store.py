"""This node's cluster.toml and the stamp of the change that wrote it.

The stamp (who changed it, when, and a digest of the text) is what lets two nodes that
were apart agree afterwards which configuration is the newer one (sync.py).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from tandem.config import ClusterConfig, load_config
from tandem.config.write import render_config
from tandem.fsutil import atomic_write


@dataclass(frozen=True)
class Stamp:
    id: str
    at: float
    origin: str
    digest: str

    @classmethod
    def new(cls, origin: str, text: str) -> Stamp:
        return cls(uuid.uuid4().hex, time.time(), origin, digest(text))


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class ConfigStore:
    def __init__(self, config_file: Path, state_dir: Path) -> None:
        self.config_file = config_file
        self.stamp_file = state_dir / "config-stamp.json"
        self._cached: tuple[tuple[int, int, int], ClusterConfig] | None = None

    def load(self) -> ClusterConfig:
        """The configuration as the file says now; parsed again only when the file changed
        (every page asks, and the Status page must stay fast)."""
        st = self.config_file.stat()
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, load_config(self.config_file))
        return self._cached[1]

    def text(self) -> str:
        return self.config_file.read_text(encoding="utf-8")

    def stamp(self) -> Stamp | None:
        """The stamp of the file as it is now; None if it was written by hand or by init."""
        try:
            data = json.loads(self.stamp_file.read_text())
            stamp = Stamp(**data)
        except (FileNotFoundError, ValueError, TypeError):
            return None
        try:
            current = digest(self.text())
        except FileNotFoundError:
            return None
        return stamp if stamp.digest == current else None

    def write(self, cfg: ClusterConfig, stamp_for: str) -> Stamp:
        text = render_config(cfg)
        stamp = Stamp.new(stamp_for, text)
        self.write_text(text, stamp)
        return stamp

    def write_text(self, text: str, stamp: Stamp) -> None:
        atomic_write(self.config_file, text, 0o644)
        atomic_write(self.stamp_file, json.dumps(asdict(stamp)), 0o644)
