"""Running system tools (ip, nsenter, mount, ...) with errors that say what failed."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from tandem.errors import TandemError


class CommandFailed(TandemError):
    def __init__(self, argv: Sequence[str], code: int, stderr: str) -> None:
        self.argv = list(argv)
        self.code = code
        self.stderr = stderr.strip()
        super().__init__(f"`{' '.join(argv)}` failed (exit {code}): {self.stderr or 'no output'}")


def run(
    argv: Sequence[str],
    *,
    input: str | None = None,
    check: bool = True,
    timeout: float = 30.0,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(argv),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise CommandFailed(argv, proc.returncode, proc.stderr or proc.stdout)
    return proc


def in_netns(pid: int, argv: Sequence[str]) -> list[str]:
    """The argv that runs `argv` in the network namespace of process `pid`."""
    return ["nsenter", "-t", str(pid), "-n", "--", *argv]
