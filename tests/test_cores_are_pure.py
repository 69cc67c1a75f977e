"""DESIGN: cores import no asyncio, socket, subprocess or os, and read no clock or
randomness of their own. This test holds every core module to it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tandem"
CORES = [
    "membership/core.py",
    "membership/quorum.py",
    "membership/events.py",
    "membership/witness_core.py",
    "membership/wire.py",
    "crm/core.py",
    *(
        f"replication/{name}.py"
        for name in (
            "core", "primary", "secondary", "link", "resync", "verify", "roles", "state",
            "states", "bitmap", "generations", "messages", "events", "activity",
        )
    ),
]  # fmt: skip
FORBIDDEN = {"asyncio", "socket", "subprocess", "os", "time", "random", "threading", "select"}


@pytest.mark.parametrize("module", CORES)
def test_core_imports_no_io(module: str) -> None:
    tree = ast.parse((SRC / module).read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN, f"{module} imports {imported & FORBIDDEN}"
