"""Every subcommand answers --help (issue 2: one console script, help on each)."""

from __future__ import annotations

import pytest

from tests.conftest import tandem

COMMANDS = [
    [], ["init"], ["config"], ["config", "check"], ["config", "show"],
    ["lab"], ["lab", "up"], ["lab", "down"], ["lab", "status"], ["lab", "exec"],
    ["lab", "cut"], ["lab", "heal"], ["lab", "crash"], ["lab", "boot"],
    ["node"], ["node", "run"], ["node", "status"],
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "tandem")
def test_help(command: list[str]) -> None:
    result = tandem(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_version() -> None:
    result = tandem("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("tandem ")
