from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import tandem

PASSWORD = "correct horse battery"


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    """A directory written by `tandem init`, as on a fresh node."""
    target = tmp_path / "etc-tandem"
    result = tandem(
        "init", "--dir", str(target),
        "--node1-external", "10.0.0.11", "--node2-external", "10.0.0.12",
        "--gateway", "10.0.0.1",
        env={"TANDEM_ADMIN_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return target
