"""A restore reads the whole archive first: a corrupt archive or a file that is not a
backup is refused before anything changes (VE-5, DESIGN invariant 6)."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from tandem.containers import backup, definition
from tandem.containers.errors import InvalidRequest
from tests.containers.helpers import definition as make


def manifest(**changes: object) -> bytes:
    doc = {
        "format": backup.FORMAT,
        "version": backup.VERSION,
        "veid": 101,
        "hostname": "vps101.example.com",
        "node": "node1",
        "created": "2026-11-25T10:00:00Z",
        "consistency": "frozen",
        "used_bytes": 1000,
        "definition": definition.render(make()),
    }
    doc.update(changes)
    return json.dumps(doc).encode()


def archive(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def good(tmp_path: Path) -> Path:
    payload = os.urandom(300_000)  # incompressible, so a flipped byte hits real data
    return archive(
        tmp_path / "ve101.tar.gz",
        [(backup.MANIFEST, manifest()), (backup.ACTIONS, b"history\n"),
         ("root/root/rand", payload), ("root/etc/hostname", b"vps101\n")],
    )  # fmt: skip


def test_a_good_archive_passes(tmp_path: Path) -> None:
    checked = backup.check(good(tmp_path))
    assert checked.manifest.veid == 101 and checked.manifest.definition == make()
    assert checked.history == b"history\n"


def test_a_flipped_byte_is_found(tmp_path: Path) -> None:
    path = good(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidRequest, match="is corrupt"):
        backup.check(path)


def test_a_truncated_archive_is_found(tmp_path: Path) -> None:
    path = good(tmp_path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    with pytest.raises(InvalidRequest, match="is corrupt"):
        backup.check(path)


def test_not_gzip(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not a backup\n")
    with pytest.raises(InvalidRequest, match="is not a tandem backup"):
        backup.check(path)


def test_a_tar_that_is_not_a_backup(tmp_path: Path) -> None:
    path = archive(tmp_path / "x.tar.gz", [("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")])
    with pytest.raises(InvalidRequest, match="no manifest"):
        backup.check(path)


def test_another_kind_of_manifest(tmp_path: Path) -> None:
    path = archive(tmp_path / "x.tar.gz", [(backup.MANIFEST, b'{"format": "other"}')])
    with pytest.raises(InvalidRequest, match="not a tandem container backup"):
        backup.check(path)


def test_a_newer_format(tmp_path: Path) -> None:
    path = archive(tmp_path / "x.tar.gz", [(backup.MANIFEST, manifest(version=99))])
    with pytest.raises(InvalidRequest, match="format version 99"):
        backup.check(path)


def test_files_outside_the_container(tmp_path: Path) -> None:
    path = archive(
        tmp_path / "x.tar.gz",
        [(backup.MANIFEST, manifest()), ("root/../../etc/shadow", b"x")],
    )
    with pytest.raises(InvalidRequest, match="outside the container"):
        backup.check(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="does not exist"):
        backup.check(tmp_path / "nothing.tar.gz")


def test_empty_gzip(tmp_path: Path) -> None:
    path = tmp_path / "empty.tar.gz"
    path.write_bytes(gzip.compress(b""))
    with pytest.raises(InvalidRequest, match=r"not a tandem backup|corrupt"):
        backup.check(path)
