"""`tandem init`: a working configuration, secrets with mode 0600, and an admin password
file that Apache's own htpasswd reads and rewrites (OP-4)."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from cryptography import x509

from tandem.config import load_config
from tandem.config.secrets import SecretPaths, check_password, read_cluster_key
from tests.config.conftest import PASSWORD
from tests.conftest import tandem


def test_writes_config_and_private_secrets(etc: Path) -> None:
    cfg = load_config(etc / "cluster.toml")
    assert cfg.node1.crossover.exploded == "192.168.255.1"  # the seed's crossover addresses
    assert [str(p) for p in cfg.ping.nodes] == ["10.0.0.1"]  # the gateway by default
    secrets = SecretPaths(etc / "secrets")
    assert stat.S_IMODE(secrets.dir.stat().st_mode) == 0o700
    for path in secrets.all():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert len(read_cluster_key(secrets.cluster_key)) == 32


def test_certificate_names_both_nodes(etc: Path) -> None:
    cert = x509.load_pem_x509_certificate((etc / "secrets" / "tls.crt").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"node1", "node2"} <= set(san.get_values_for_type(x509.DNSName))
    addresses = {str(a) for a in san.get_values_for_type(x509.IPAddress)}
    assert {"10.0.0.11", "10.0.0.12", "192.168.255.1"} <= addresses


def test_apache_htpasswd_verifies_and_resets_the_admin_password(etc: Path) -> None:
    htpasswd = etc / "secrets" / "htpasswd"
    verify = subprocess.run(
        ["htpasswd", "-vb", str(htpasswd), "admin", PASSWORD], capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stderr
    assert check_password(htpasswd, "admin", PASSWORD)
    # The seed's reset procedure (7.1), with bcrypt: run as root, no tandem involved.
    subprocess.run(["htpasswd", "-bB", str(htpasswd), "admin", "new secret"], check=True)
    assert check_password(htpasswd, "admin", "new secret")
    assert not check_password(htpasswd, "admin", PASSWORD)


def test_refuses_to_overwrite_and_keeps_secrets_with_force(etc: Path) -> None:
    key_before = (etc / "secrets" / "cluster.key").read_bytes()
    args = ["init", "--dir", str(etc), "--node1-external", "10.0.0.21",
            "--node2-external", "10.0.0.22"]  # fmt: skip
    refused = tandem(*args)
    assert refused.returncode == 1
    assert "pass --force" in refused.stderr
    assert "10.0.0.11" in (etc / "cluster.toml").read_text()
    forced = tandem(*args, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "10.0.0.21" in (etc / "cluster.toml").read_text()
    assert (etc / "secrets" / "cluster.key").read_bytes() == key_before
    assert "kept" in forced.stdout


def test_bad_arguments_write_nothing(tmp_path: Path) -> None:
    target = tmp_path / "etc"
    result = tandem("init", "--dir", str(target), "--node1-external", "10.0.0.11",
                    "--node2-external", "10.0.0.11")  # fmt: skip
    assert result.returncode == 2
    assert "node2.external" in result.stderr
    assert not target.exists()


def test_generated_password_is_printed_once(tmp_path: Path) -> None:
    result = tandem("init", "--dir", str(tmp_path / "e"), "--node1-external", "10.0.0.11",
                    "--node2-external", "10.0.0.12", env={"TANDEM_ADMIN_PASSWORD": ""})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "web login: admin / " in result.stdout
