"""The Debian mirror is the one the node's APT uses (deb822 or one-line sources)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.containers import debootstrap
from tandem.containers.errors import ContainerError

DEB822 = """\
Types: deb
URIs: http://deb.example.org/debian-security
Suites: bookworm-security
Components: main

Types: deb
# a comment
URIs: http://mirror.example.org/debian/
Suites: bookworm bookworm-updates
Components: main
"""


def apt(tmp_path: Path, sources: str = "", lists: str = "") -> Path:
    (tmp_path / "sources.list.d").mkdir()
    if sources:
        (tmp_path / "sources.list.d/debian.sources").write_text(sources)
    if lists:
        (tmp_path / "sources.list").write_text(lists)
    return tmp_path


def test_deb822(tmp_path: Path) -> None:
    assert (
        debootstrap.configured_mirror(apt(tmp_path, DEB822)) == "http://mirror.example.org/debian"
    )


def test_one_line(tmp_path: Path) -> None:
    lists = (
        "deb http://security.debian.org/debian-security bookworm-security main\n"
        "deb [arch=amd64] http://ftp.de.debian.org/debian bookworm main contrib\n"
    )
    assert debootstrap.configured_mirror(apt(tmp_path, lists=lists)) == (
        "http://ftp.de.debian.org/debian"
    )


def test_no_mirror(tmp_path: Path) -> None:
    with pytest.raises(ContainerError, match="no Debian mirror"):
        debootstrap.configured_mirror(apt(tmp_path))


def test_suites() -> None:
    assert debootstrap.suite_of("debian-12") == "bookworm"
    with pytest.raises(ContainerError, match="no Debian release 7"):
        debootstrap.suite_of("debian-7")


def test_this_hosts_mirror_is_found() -> None:
    if not Path("/etc/apt").is_dir():
        pytest.skip("no APT on this host")
    assert debootstrap.configured_mirror().startswith(("http://", "https://"))
