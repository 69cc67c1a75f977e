"""Detaching /vz waits out a short-lived user and names a lasting one (DR-2): a status
poll's `lxc-info` holds the lxcpath under /vz for a moment, which made the demo's first
installation fail once in CI."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tandem.errors import TandemError
from tandem.fsutil import mountpoints
from tandem.replication.engine.attach import _unmount


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "tandem-vz"
    target.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tandem-test", str(target)], check=True)
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def test_a_short_lived_user_is_waited_out(tmpfs: Path) -> None:
    holder = subprocess.Popen(["sleep", "1"], cwd=tmpfs)
    try:
        _unmount(str(tmpfs), patience=10)
        assert tmpfs not in mountpoints()
    finally:
        holder.wait()


def test_a_lasting_user_is_named_and_nothing_changes(tmpfs: Path) -> None:
    holder = subprocess.Popen(["sleep", "60"], cwd=tmpfs)
    try:
        with pytest.raises(TandemError) as refused:
            _unmount(str(tmpfs), patience=0.5)
        assert "fuser -vm" in str(refused.value)
        assert "sleep" in str(refused.value)  # fuser's list of who holds it
        assert tmpfs in mountpoints()
    finally:
        holder.kill()
        holder.wait()
