"""ve.conf: what is written reads back the same; a damaged file is refused by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.containers import definition
from tandem.containers.errors import InvalidRequest
from tests.containers.helpers import definition as make


def test_round_trip(tmp_path: Path) -> None:
    defn = make()
    definition.save(tmp_path / "ve.conf", defn)
    text = (tmp_path / "ve.conf").read_text()
    assert 'IP_ADDRESS="10.0.0.103 10.0.0.104"' in text  # vzctl's key and spelling
    assert 'ONBOOT="yes"' in text and 'MEMORY="256M"' in text
    assert definition.load(tmp_path / "ve.conf") == defn


def test_unlimited_values_round_trip(tmp_path: Path) -> None:
    from tests.containers.helpers import resources

    defn = make(resources=resources(memory=None, numproc=None, cpulimit=None, diskinodes=None))
    definition.save(tmp_path / "ve.conf", defn)
    assert definition.load(tmp_path / "ve.conf") == defn


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (('ONBOOT="yes"', 'ONBOOT="maybe"'), "ONBOOT"),
        (('HOSTNAME="vps101.example.com"', 'HOSTNAME="bad_name"'), "host name"),
        (('VEID="101"', 'VEID="7"'), "below 100"),
        (('IP_ADDRESS="10.0.0.103 10.0.0.104"', 'IP_ADDRESS="10.0.0.300"'), "not an IPv4"),
        (('OSTEMPLATE="busybox"\n', ""), "lacks OSTEMPLATE"),
    ],
)
def test_damaged_definitions(tmp_path: Path, change: tuple[str, str], says: str) -> None:
    text = definition.render(make()).replace(*change)
    with pytest.raises(InvalidRequest, match=says):
        definition.parse(text, "ve.conf")
