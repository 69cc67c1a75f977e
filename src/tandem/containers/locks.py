"""Locks that keep two operations (the command line and the web, say) from changing the
same container at once. flock on files in /run/tandem: the kernel drops a lock when its
holder dies, so a killed command never leaves a container locked."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from tandem import paths
from tandem.containers.errors import ContainerError

LOCK_DIR = paths.RUN_DIR / "containers"


@contextlib.contextmanager
def held(name: str, what: str, wait: float = 30.0, directory: Path = LOCK_DIR) -> Iterator[None]:
    """Hold lock `name`; wait up to `wait` seconds, then refuse, saying what is busy."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ContainerError(
                        f"{what} is busy with another operation; try again when it is done"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)


def container(veid: int, wait: float = 30.0) -> contextlib.AbstractContextManager[None]:
    return held(f"ve{veid}", f"container {veid}", wait)


def registry(wait: float = 30.0) -> contextlib.AbstractContextManager[None]:
    """For what must be unique among all containers: IDs and addresses."""
    return held("registry", "the container registry", wait)


def template(name: str, wait: float = 5.0) -> contextlib.AbstractContextManager[None]:
    return held(f"template-{name}", f"template {name}", wait)
