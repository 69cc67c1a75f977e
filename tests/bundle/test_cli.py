"""OP-1 from the command line: `tandem config export` and `tandem config import`, with the
refusals an operator sees (exit status 1, the reason, nothing changed)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.bundle.conftest import PASSPHRASE, fingerprint
from tests.conftest import TANDEM, tandem


def with_stdin(*args: str, text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TANDEM, *args], input=text, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip


def test_export_and_import_through_the_command_line(etc: Path, tmp_path: Path) -> None:
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    out = tandem("config", "export", "--dir", str(etc), "--output", str(tmp_path),
                 "--passphrase-file", str(secret), "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    bundle = Path(json.loads(out.stdout)["file"])
    assert json.loads(out.stdout)["encrypted"] is True

    fresh = tmp_path / "fresh"
    dry = tandem("config", "import", str(bundle), "--dir", str(fresh), "--passphrase-file",
                 str(secret), "--dry-run")  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing was changed" in dry.stdout and not fresh.exists()

    before = fingerprint(etc)
    wrong = with_stdin("config", "import", str(bundle), "--dir", str(etc), "--passphrase-stdin",
                       text="wrong passphrase\n")  # fmt: skip
    assert wrong.returncode == 1
    assert "the passphrase is wrong" in wrong.stderr
    assert fingerprint(etc) == before

    done = with_stdin("config", "import", str(bundle), "--dir", str(fresh), "--passphrase-stdin",
                      text=PASSPHRASE + "\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "bundle of cluster alpha" in done.stdout
    assert fingerprint(fresh) == fingerprint(etc)


def test_a_truncated_bundle_is_refused_by_the_command(etc: Path, tmp_path: Path) -> None:
    out = tandem("config", "export", "--dir", str(etc), "--output", str(tmp_path), "--json")
    bundle = Path(json.loads(out.stdout)["file"])
    cut = tmp_path / "cut.tar"
    cut.write_bytes(bundle.read_bytes()[:3000])
    before = fingerprint(etc)
    result = tandem("config", "import", str(cut), "--dir", str(etc))
    assert result.returncode == 1
    assert "truncated" in result.stderr
    assert fingerprint(etc) == before
