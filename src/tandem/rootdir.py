"""The production paths below another root directory, as `dpkg --root` does: Root() is
the running node; tests and tools that prepare a node from outside pass another root.
Nothing branches on it; only the prefix changes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tandem import paths


@dataclass(frozen=True)
class Root:
    base: Path = Path("/")

    def __call__(self, path: Path) -> Path:
        return path if self.base == Path("/") else self.base / path.relative_to("/")

    @property
    def etc(self) -> Path:
        return self(paths.ETC_DIR)

    @property
    def config(self) -> Path:
        return self(paths.CONFIG_FILE)

    @property
    def secrets(self) -> Path:
        return self(paths.SECRETS_DIR)

    @property
    def state(self) -> Path:
        return self(paths.STATE_DIR)

    @property
    def run(self) -> Path:
        return self(paths.RUN_DIR)

    @property
    def log(self) -> Path:
        return self(paths.LOG_DIR)
