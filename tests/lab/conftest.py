from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tandem.errors import LabError
from tandem.lab.lab import Lab, default_subnet
from tandem.lab.sweep import sweep
from tandem.lab.topology import LabSpec
from tests.conftest import TEST_LAB, tandem


def lab_exec(machine: str, *command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """`tandem lab exec MACHINE -- COMMAND`, as the operator types it (issue 2)."""
    return tandem("lab", "exec", machine, "--", *command, timeout=timeout)


def in_node(machine: str, *command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """COMMAND inside MACHINE, entered as `lab exec` does (same argv and environment), but
    from this process: the tests run thousands of these, and each `tandem lab exec` costs
    a Python start. A machine that is off answers like `lab exec` does: exit 1 and why."""
    try:
        lab = Lab.open(TEST_LAB)
        argv = lab.exec_argv(machine, list(command))  # type: ignore[arg-type]
    except LabError as exc:
        return subprocess.CompletedProcess(list(command), 1, "", f"error: {exc}\n")
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, env=lab.exec_env(), check=False
    )


def can_ping(source: str, address: str) -> bool:
    return in_node(source, "ping", "-c1", "-W1", address).returncode == 0


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """A lab for the module; taken down afterwards even when a test fails."""
    sweep(LabSpec(TEST_LAB, default_subnet(TEST_LAB)))  # a killed earlier run's rest
    # Membership would read the serial line too; these tests use the raw line.
    result = tandem("lab", "up", "--no-serial-heartbeat")
    try:
        assert result.returncode == 0, result.stderr
        yield Lab.open(TEST_LAB)
    finally:
        tandem("lab", "down")


@pytest.fixture
def fresh_lab_name() -> Iterator[str]:
    """For tests that bring labs up and down themselves; cleans up whatever they leave."""
    yield TEST_LAB
    Lab.down(TEST_LAB)
