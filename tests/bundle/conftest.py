from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tandem.config.initialize import initialize

PASSPHRASE = "a long bundle passphrase"


def make_etc(target: Path, cluster: str = "alpha") -> Path:
    """A configuration folder as `tandem init` leaves it, with a support key beside."""
    data = {
        "cluster": {"name": cluster},
        "node1": {"hostname": "node1", "crossover": "192.168.255.1", "external": "10.0.0.11"},
        "node2": {"hostname": "node2", "crossover": "192.168.255.2", "external": "10.0.0.12"},
        "network": {"gateway": "10.0.0.1"},
        "notification": {"address": ["ops@example.com"]},
    }
    initialize(target, data, admin_password="correct horse battery")
    (target / "secrets" / "support_ed25519").write_text("PRIVATE KEY\n")
    (target / "secrets" / "support_ed25519").chmod(0o600)
    return target


def fingerprint(etc: Path) -> dict[str, str]:
    """Every file under etc with its SHA-256 and mode: equal before and after = unchanged."""
    return {
        str(
            p.relative_to(etc)
        ): f"{hashlib.sha256(p.read_bytes()).hexdigest()} {p.stat().st_mode:o}"
        for p in sorted(etc.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    return make_etc(tmp_path / "etc-tandem")
