"""Shared fixtures. Lab tests need root; they build their own lab named `tandemt` so that a
demo lab (`tandem`) that is up on the same host is left alone."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TANDEM = str(Path(sys.executable).parent / "tandem")
# Several checkouts or helpers can test at once when each sets its own lab name.
TEST_LAB = os.environ.get("TANDEM_TEST_LAB", "tandemt")
PR_SET_CHILD_SUBREAPER = 36


def pytest_configure(config: pytest.Config) -> None:
    # Daemons the tests start (the lab keeper) are orphaned when the command that started
    # them exits; this host's PID 1 does not always reap them, so pytest adopts and reaps.
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def pytest_unconfigure(config: pytest.Config) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="lab tests need root (namespaces, veths, mounts)")
    for item in items:
        if "lab" in item.keywords:
            item.add_marker(skip)


def tandem(
    *args: str, check: bool = False, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real `tandem` console script, as an operator would."""
    full_env = {**os.environ, "TANDEM_LAB_NAME": TEST_LAB, **(env or {})}
    return subprocess.run(
        [TANDEM, *args],
        capture_output=True,
        text=True,
        check=check,
        env=full_env,
        timeout=timeout,
    )


@pytest.fixture
def run_tandem() -> Iterator[object]:
    yield tandem
