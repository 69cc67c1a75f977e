"""DESIGN: cores import no I/O and read no clock. The disk's model (cache, pages, journal,
types) and its simulated store hold to it; only store.py, fs.py and daemon.py touch the
world. (The same check as tests/test_cores_are_pure.py, for the lab's disk.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DISK = Path(__file__).resolve().parents[3] / "src" / "tandem" / "lab" / "disk"
CORES = ["cache.py", "pages.py", "journal.py", "types.py", "memstore.py"]
FORBIDDEN = {
    "asyncio", "socket", "subprocess", "os", "time", "random", "threading", "select",
    "pyfuse3", "trio", "pathlib", "shutil",
}  # fmt: skip


@pytest.mark.parametrize("module", CORES)
def test_the_model_imports_no_io(module: str) -> None:
    tree = ast.parse((DISK / module).read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
            if node.module.startswith("tandem.lab.disk."):
                assert node.module.rsplit(".", 1)[1] + ".py" in CORES, node.module
    assert not imported & FORBIDDEN, f"{module} imports {imported & FORBIDDEN}"
