"""The local disk of a replica under /var/lib/tandem/volume: the data file, the metadata
(generations, disk state, activity log) and the bitmap.

The metadata is replaced atomically (write, fsync, rename, fsync the directory); the
bitmap is written in place, only its changed 4 KiB pages, then fsynced, before the
metadata that refers to it. Both are written in a worker thread: a slow disk must not
stall the event loop that serves the volume.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tandem.errors import ConfigError
from tandem.fsutil import atomic_write
from tandem.replication.bitmap import BLOCK
from tandem.replication.core import Meta
from tandem.replication.generations import Generations
from tandem.replication.states import Disk


class Store:
    def __init__(self, directory: Path, size: int) -> None:
        self.dir = directory
        self.size = size
        self.blocks = size // BLOCK
        self.data_path = directory / "data"
        self.meta_path = directory / "meta.json"
        self.bitmap_path = directory / "bitmap"
        self.fd = -1
        self.bitmap_fd = -1

    # --- creation and opening --------------------------------------------------------

    def exists(self) -> bool:
        return self.meta_path.exists() and self.data_path.exists()

    def create(self) -> None:
        """A new, empty replica: no data generation, Inconsistent until a sync or an
        operator's initialize fills it (seed 7.2 and 7.3)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        # Both sizes must be durable before the metadata that declares the replica: a
        # power cut in between must not leave a replica of the wrong size.
        for path, size in ((self.data_path, self.size), (self.bitmap_path, (self.blocks + 7) // 8)):
            with path.open("wb") as f:
                f.truncate(size)
                os.fsync(f.fileno())
        meta = Meta(Generations(0), Disk.INCONSISTENT)
        atomic_write(self.meta_path, json.dumps(meta.to_dict(), indent=1) + "\n", 0o600)

    def open(self) -> Meta:
        if not self.exists():
            raise ConfigError(f"no replica in {self.dir}; create it with `tandem volume create`")
        actual = self.data_path.stat().st_size
        if actual != self.size:
            raise ConfigError(
                f"{self.data_path} holds {actual} bytes but [volume] size says {self.size}; "
                "a volume cannot change size in place"
            )
        self.fd = os.open(self.data_path, os.O_RDWR)
        self.bitmap_fd = os.open(self.bitmap_path, os.O_RDWR)
        data = json.loads(self.meta_path.read_text())
        bitmap = os.pread(self.bitmap_fd, (self.blocks + 7) // 8, 0)
        return Meta(
            Generations(
                int(data["current"]),
                int(data["bitmap_gen"]),
                tuple(int(h) for h in data["history"]),
            ),
            Disk(data["disk"]),
            bool(data["was_primary"]),
            [int(e) for e in data["al"]],
            bitmap,
        )

    def close(self) -> None:
        for fd in (self.fd, self.bitmap_fd):
            if fd >= 0:
                os.close(fd)
        self.fd = self.bitmap_fd = -1

    # --- the data path (called in the event loop: page-cache copies only) -------------

    def write(self, offset: int, data: bytes) -> None:
        written = os.pwrite(self.fd, data, offset)
        if written != len(data):
            raise OSError(f"short write: {written} of {len(data)} bytes")

    def read(self, offset: int, length: int) -> bytes:
        return os.pread(self.fd, length, offset)

    # --- in worker threads -----------------------------------------------------------

    def flush(self) -> None:
        os.fdatasync(self.fd)

    def persist(self, meta: dict[str, Any]) -> None:
        pages: dict[int, bytes] = meta.pop("bitmap_pages", {})
        for page, data in pages.items():
            os.pwrite(self.bitmap_fd, data, page * BLOCK)
        if pages:
            os.fsync(self.bitmap_fd)
        atomic_write(self.meta_path, json.dumps(meta, indent=1) + "\n", 0o600)
