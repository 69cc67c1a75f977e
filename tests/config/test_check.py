"""`tandem config check` (issue 2 acceptance): each kind of mistake is refused with a
message that names the key, exit status 2, and the file left as it was."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import tandem


def check(path: Path) -> tuple[int, str]:
    before = path.read_bytes()
    result = tandem("config", "check", str(path))
    assert path.read_bytes() == before, "config check must never change the file"
    return result.returncode, result.stdout + result.stderr


def edit(etc: Path, pattern: str, replacement: str) -> Path:
    path = etc / "cluster.toml"
    text = path.read_text()
    new, count = re.subn(pattern, replacement, text, count=1, flags=re.MULTILINE)
    assert count == 1, f"{pattern!r} not found in the file tandem init wrote"
    path.write_text(new)
    return path


def test_accepts_what_init_wrote(etc: Path) -> None:
    code, out = check(etc / "cluster.toml")
    assert code == 0
    assert out.startswith("OK")


def test_missing_key(etc: Path) -> None:
    path = edit(etc, r'^external = "10\.0\.0\.12"\n', "")
    code, out = check(path)
    assert code == 2
    assert "node2.external: missing" in out
    assert "IPv4 address" in out  # what would be valid


def test_wrong_type(etc: Path) -> None:
    path = edit(etc, r"^port = 694$", 'port = "694"')
    code, out = check(path)
    assert code == 2
    assert 'heartbeat.port = "694": wrong type' in out


def test_unknown_key(etc: Path) -> None:
    path = edit(etc, r"^profile = \"fast\"$", 'profile = "fast"\nkeepaliv = 0.3')
    code, out = check(path)
    assert code == 2
    assert "heartbeat.keepaliv = 0.3: unknown key in heartbeat (did you mean keepalive?)" in out
    assert "expected one of" in out


def test_invalid_ip_address(etc: Path) -> None:
    path = edit(etc, r'^crossover = "192\.168\.255\.1"$', 'crossover = "192.168.255.300"')
    code, out = check(path)
    assert code == 2
    assert 'node1.crossover = "192.168.255.300"' in out


def test_same_address_on_both_nodes(etc: Path) -> None:
    path = edit(etc, r'^crossover = "192\.168\.255\.2"$', 'crossover = "192.168.255.1"')
    code, out = check(path)
    assert code == 2
    assert 'node2.crossover = "192.168.255.1": the same crossover as node1.crossover' in out


def test_deadtime_shorter_than_two_keepalives(etc: Path) -> None:
    path = edit(etc, r"^profile = \"fast\"$", 'profile = "fast"\nkeepalive = 0.5\ndeadtime = 0.8')
    code, out = check(path)
    assert code == 2
    assert "heartbeat.deadtime = 0.8: deadtime 0.8 s is shorter than two keepalives" in out
    assert "at least 1 s" in out


def test_not_toml(etc: Path) -> None:
    path = etc / "cluster.toml"
    path.write_text("[cluster\nname = tandem\n")
    code, out = check(path)
    assert code == 2
    assert "is not valid TOML" in out
    assert "line 1" in out


def test_every_error_at_once(etc: Path) -> None:
    edit(etc, r'^external = "10\.0\.0\.12"\n', "")
    path = edit(etc, r"^port = 694$", "port = 70000")
    code, out = check(path)
    assert code == 2
    assert "2 errors" in out
    assert "node2.external" in out
    assert "heartbeat.port = 70000" in out


def test_missing_file(tmp_path: Path) -> None:
    result = tandem("config", "check", str(tmp_path / "nowhere.toml"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_json_output(etc: Path) -> None:
    import json

    path = edit(etc, r"^port = 694$", 'port = "694"')
    result = tandem("config", "check", "--json", str(path))
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["errors"][0]["key"] == "heartbeat.port"


@pytest.mark.parametrize("profile", ["fast", "seed"])
def test_profiles_resolve(etc: Path, profile: str) -> None:
    import json

    path = edit(etc, r"^profile = \"fast\"$", f'profile = "{profile}"')
    result = tandem("config", "show", "--json", str(path))
    assert result.returncode == 0, result.stderr
    hb = json.loads(result.stdout)["heartbeat"]
    if profile == "fast":  # HB-2: the fast profile is the default and stays sub-second
        assert hb["keepalive"] <= 0.2 and hb["deadtime"] <= 2.0
    else:  # the seed's Heartbeat 1.2 values (seed section 2.2)
        assert (hb["keepalive"], hb["deadtime"]) == (5.0, 60.0)
