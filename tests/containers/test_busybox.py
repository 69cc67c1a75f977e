"""The busybox template's root filesystem: a static busybox, an init, init scripts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tandem.containers import busybox
from tandem.containers.errors import ContainerError


def test_build(tmp_path: Path) -> None:
    if not busybox.BUSYBOX.exists():
        pytest.skip("busybox-static is not installed")
    root = tmp_path / "root"
    root.mkdir()
    busybox.build(root)
    assert (root / "sbin/init").resolve() == (root / "bin/busybox").resolve()
    assert (root / "bin/sh").is_symlink()
    assert os.access(root / "etc/init.d/httpd", os.X_OK)
    assert (root / "etc/rc.d/S50httpd").resolve() == (root / "etc/init.d/httpd").resolve()
    assert (root / "tmp").stat().st_mode & 0o7777 == 0o1777
    assert "root:x:0:0" in (root / "etc/passwd").read_text()


def test_refuses_a_dynamic_busybox(tmp_path: Path) -> None:
    with pytest.raises(ContainerError, match="dynamically linked"):
        busybox.check_static(Path("/bin/ls"))
    with pytest.raises(ContainerError, match="missing"):
        busybox.check_static(tmp_path / "nothing")
