"""Resource samples (VE-3): the shipped ones parse and say what they promise; a bad sample
file is refused with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.containers import samples
from tandem.containers.errors import InvalidRequest

GIB = 1024**3
MIB = 1024**2


def test_the_shipped_samples() -> None:
    shipped = samples.shipped()
    assert set(shipped) == {"vps.256MB", "vps.512MB", "vps.1024MB", "unlimited"}
    small = samples.parse_sample("vps.256MB", shipped["vps.256MB"], "vps.256MB").resources
    assert (small.memory, small.numproc, small.cpulimit, small.diskspace) == (
        256 * MIB, 256, 50, 2 * GIB,
    )  # fmt: skip
    medium = samples.parse_sample("vps.512MB", shipped["vps.512MB"], "x").resources
    large = samples.parse_sample("vps.1024MB", shipped["vps.1024MB"], "x").resources
    assert medium.memory == 512 * MIB and large.memory == 1024 * MIB
    assert small.diskspace < medium.diskspace < large.diskspace


def test_unlimited_takes_a_share_of_vz() -> None:
    sample = samples.parse_sample("unlimited", samples.shipped()["unlimited"], "unlimited")
    assert sample.resources.memory is None and sample.resources.cpulimit is None
    assert sample.disk_percent == 80
    resolved = sample.resolve(vz_available=10 * GIB)
    assert resolved.diskspace == 8 * GIB
    with pytest.raises(InvalidRequest, match="free space on /vz"):
        sample.resolve(vz_available=10 * MIB)


def test_install_keeps_operator_edits(tmp_path: Path) -> None:
    assert sorted(samples.install(tmp_path)) == [
        "unlimited",
        "vps.1024MB",
        "vps.256MB",
        "vps.512MB",
    ]
    edited = tmp_path / "vps.256MB.conf"
    edited.write_text(edited.read_text().replace('MEMORY="256M"', 'MEMORY="300M"'))
    assert samples.install(tmp_path) == []
    assert samples.load(tmp_path, "vps.256MB").resources.memory == 300 * MIB


def test_an_operator_copy_is_a_new_sample(tmp_path: Path) -> None:
    samples.install(tmp_path)
    text = (tmp_path / "vps.256MB.conf").read_text().replace('DISKSPACE="2G"', 'DISKSPACE="64M"')
    (tmp_path / "small.conf").write_text(text)
    assert samples.load(tmp_path, "small").resources.diskspace == 64 * MIB
    assert "small" in samples.available(tmp_path)


def test_unknown_sample_lists_the_known(tmp_path: Path) -> None:
    samples.install(tmp_path)
    with pytest.raises(InvalidRequest, match=r"unknown sample 'vps\.2GB'.*vps\.256MB"):
        samples.load(tmp_path, "vps.2GB")
    with pytest.raises(InvalidRequest, match="sample name"):
        samples.load(tmp_path, "../etc/passwd")


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (('MEMORY="256M"', 'MEMORY="lots"'), "MEMORY 'lots' is not a size"),
        (('MEMORY="256M"', 'MEMORY="1M"'), "too small"),
        (('NUMPROC="256"', 'NUMPROC="-3"'), "NUMPROC '-3' is not a number"),
        (('CPUUNITS="1000"', 'CPUUNITS="0"'), "out of range"),
        (('DISKSPACE="2G"', 'DISKSPACE="2Q"'), "not a size"),
        (('DISKSPACE="2G"', 'DISKPSACE="2G"'), "unknown key DISKPSACE"),
        (('DISKINODES="200000"', "DISKINODES=200000 200"), 'not KEY="value"'),
        (('CPULIMIT="50"', 'CPULIMIT="$(reboot)"'), 'not KEY="value"'),
    ],
)
def test_bad_sample_files(tmp_path: Path, change: tuple[str, str], says: str) -> None:
    text = samples.shipped()["vps.256MB"].replace(*change)
    (tmp_path / "bad.conf").write_text(text)
    with pytest.raises(InvalidRequest, match=says):
        samples.load(tmp_path, "bad")


def test_a_sample_without_a_key(tmp_path: Path) -> None:
    text = samples.shipped()["vps.256MB"].replace('NUMPROC="256"\n', "")
    (tmp_path / "short.conf").write_text(text)
    with pytest.raises(InvalidRequest, match="lacks NUMPROC"):
        samples.load(tmp_path, "short")
