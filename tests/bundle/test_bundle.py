"""OP-1: the configuration bundle. Export, import, and every refusal (truncated, one byte
changed, wrong passphrase, another cluster), each with the configuration's checksums
compared before and after."""

from __future__ import annotations

import json
import re
import stat
import tarfile
from pathlib import Path

import pytest

from tandem.bundle.content import pack, unpack
from tandem.bundle.install import export_bundle, install, plan_import
from tandem.bundle.tarball import BundleRefused
from tests.bundle.conftest import PASSPHRASE, fingerprint, make_etc


def test_export_names_the_file_and_lists_every_secret(etc: Path, tmp_path: Path) -> None:
    """OP-1: tandem_<cluster>_<YYYYMMDD_HHMMSS>.tar, mode 0600, manifest with SHA-256."""
    out = export_bundle(etc, tmp_path, None)
    assert re.fullmatch(r"tandem_alpha_\d{8}_\d{6}\.tar", out.path.name)
    assert stat.S_IMODE(out.path.stat().st_mode) == 0o600
    with tarfile.open(out.path) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert names[0] == "manifest.json" and names[-1] == "manifest.sha256"
    assert {f["path"] for f in manifest["files"]} == {
        "cluster.toml", "secrets/cluster.key", "secrets/htpasswd", "secrets/tls.crt",
        "secrets/tls.key", "secrets/support_ed25519",
    }  # fmt: skip
    assert manifest["cluster"] == "alpha"
    assert manifest["format"] == "tandem-bundle" and manifest["version"] == 1
    assert all(len(f["sha256"]) == 64 for f in manifest["files"])


def test_import_on_a_fresh_node_installs_every_file_with_its_mode(
    etc: Path, tmp_path: Path
) -> None:
    out = export_bundle(etc, tmp_path, None)
    fresh = tmp_path / "fresh"
    plan = plan_import(out.path.read_bytes(), fresh, None)
    assert plan.fresh and set(plan.changes.values()) == {"new"}
    install(plan)
    assert fingerprint(fresh) == fingerprint(etc)
    assert stat.S_IMODE((fresh / "secrets").stat().st_mode) == 0o700
    assert stat.S_IMODE((fresh / "secrets" / "cluster.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((fresh / "cluster.toml").stat().st_mode) == 0o644
    assert not list(fresh.rglob(".*")), "no temporary file is left behind"


def test_encrypted_bundle_round_trip(etc: Path, tmp_path: Path) -> None:
    out = export_bundle(etc, tmp_path, PASSPHRASE)
    with tarfile.open(out.path) as tar:
        assert tar.getnames() == ["encryption.json", "payload.bin"]
        header = json.loads(tar.extractfile("encryption.json").read())  # type: ignore[union-attr]
    assert header["cipher"] == "AES-256-GCM" and header["kdf"]["name"] == "scrypt"
    assert b"PRIVATE KEY" not in out.path.read_bytes()
    fresh = tmp_path / "fresh"
    install(plan_import(out.path.read_bytes(), fresh, PASSPHRASE))
    assert fingerprint(fresh) == fingerprint(etc)


def test_reimport_of_the_same_bundle_changes_nothing(etc: Path, tmp_path: Path) -> None:
    out = export_bundle(etc, tmp_path, None)
    plan = plan_import(out.path.read_bytes(), etc, None)
    assert set(plan.changes.values()) == {"same"}
    before = fingerprint(etc)
    assert install(plan) is None
    assert fingerprint(etc) == before


def test_a_changed_node_gets_the_bundles_files_and_keeps_a_copy(etc: Path, tmp_path: Path) -> None:
    out = export_bundle(etc, tmp_path, None)
    exported = fingerprint(etc)
    (etc / "secrets" / "htpasswd").write_text("admin:$2y$05$changed\n")
    (etc / "secrets" / "extra.txt").write_text("not in the bundle\n")
    plan = plan_import(out.path.read_bytes(), etc, None)
    assert plan.changes["secrets/htpasswd"] == "changed"
    assert plan.kept == ["secrets/extra.txt"]
    copy = install(plan)
    assert copy is not None and stat.S_IMODE(copy.stat().st_mode) == 0o600
    with tarfile.open(copy) as tar:
        assert tar.extractfile("secrets/htpasswd").read() == b"admin:$2y$05$changed\n"  # type: ignore[union-attr]
    now = fingerprint(etc)
    assert {k: v for k, v in now.items() if k in exported} == exported


def refused(data: bytes, etc: Path, passphrase: str | None = None, **kw: bool) -> str:
    """The refusal's reason; asserts that the configuration did not change."""
    before = fingerprint(etc)
    with pytest.raises(BundleRefused) as info:
        install(plan_import(data, etc, passphrase, **kw))
    assert fingerprint(etc) == before
    return str(info.value)


def test_truncated_bundles_are_refused(etc: Path, tmp_path: Path) -> None:
    """OP-1: cut anywhere (inside a member, at a block boundary, before the end marker)."""
    data = export_bundle(etc, tmp_path, None).path.read_bytes()
    cuts = [len(data) // 2, 1000, 512, 1536, *range(512, len(data), 512)]
    for cut in cuts:
        reason = refused(data[:cut], etc)
        assert "truncated" in reason or "incomplete" in reason, (cut, reason)
    encrypted = export_bundle(etc, tmp_path / "enc", PASSPHRASE).path.read_bytes()
    for cut in (len(encrypted) // 2, len(encrypted) - 10240, 2048):
        assert "truncated" in refused(encrypted[:cut], etc, PASSPHRASE)


def test_every_single_changed_byte_of_a_plain_bundle_is_refused(etc: Path, tmp_path: Path) -> None:
    """OP-1: each byte position of the file, changed in turn, makes the bundle unusable."""
    data = export_bundle(etc, tmp_path, None).path.read_bytes()
    accepted = []
    for position in range(len(data)):
        changed = bytearray(data)
        changed[position] ^= 0x01
        try:
            unpack(bytes(changed), None)
        except BundleRefused:
            continue
        accepted.append(position)
    assert accepted == [], f"{len(accepted)} of {len(data)} changed positions accepted"
    changed = bytearray(data)
    changed[data.index(b"[cluster]") + 2] ^= 0x01
    assert "was changed after export: cluster.toml" in refused(bytes(changed), etc)


def test_changed_bytes_of_an_encrypted_bundle_are_refused(etc: Path, tmp_path: Path) -> None:
    data = export_bundle(etc, tmp_path, PASSPHRASE).path.read_bytes()
    payload_at = data.index(b"payload.bin") + 512  # first byte of the ciphertext
    reason = refused(data[:payload_at + 100] + bytes([data[payload_at + 100] ^ 1])
                     + data[payload_at + 101 :], etc, PASSPHRASE)  # fmt: skip
    assert "fails authentication" in reason
    for position in range(0, len(data), 211):
        changed = bytearray(data)
        changed[position] ^= 0x80
        with pytest.raises(BundleRefused):
            unpack(bytes(changed), PASSPHRASE)


def test_wrong_or_missing_passphrase_is_refused(etc: Path, tmp_path: Path) -> None:
    data = export_bundle(etc, tmp_path, PASSPHRASE).path.read_bytes()
    assert "passphrase is wrong" in refused(data, etc, "not the passphrase")
    assert "encrypted; give its passphrase" in refused(data, etc, None)


def test_a_bundle_of_another_cluster_is_refused(etc: Path, tmp_path: Path) -> None:
    beta = make_etc(tmp_path / "beta", cluster="beta")
    data = export_bundle(beta, tmp_path, None).path.read_bytes()
    reason = refused(data, etc)
    assert "from cluster beta, this node belongs to cluster alpha" in reason
    assert "--foreign-ok" in reason
    install(plan_import(data, etc, None, foreign_ok=True))
    now = fingerprint(etc)
    assert [k for k in now if k.startswith("replaced/tandem_replaced_")]
    assert {k: v for k, v in now.items() if not k.startswith("replaced/")} == fingerprint(beta)


def test_same_name_but_another_cluster_key_is_refused(etc: Path, tmp_path: Path) -> None:
    other = make_etc(tmp_path / "other", cluster="alpha")  # its own, new cluster key
    data = export_bundle(other, tmp_path, None).path.read_bytes()
    assert "another cluster key" in refused(data, etc)


def test_a_bundle_with_an_invalid_configuration_is_refused(etc: Path) -> None:
    files = {"cluster.toml": b'[cluster]\nname = "alpha"\n', "secrets/cluster.key": b"00\n"}
    reason = refused(pack(files, "alpha", None, 0), etc)
    assert "the bundle's configuration is invalid" in reason and "node1" in reason


def test_a_tar_that_is_not_a_bundle_is_refused(etc: Path, tmp_path: Path) -> None:
    from tandem.bundle.tarball import write_tar

    assert "no manifest.json" in refused(write_tar([("etc/hosts", b"x", 0o644)], 0), etc)
    assert "not even an empty tar" in refused(b"hello", etc)


def test_members_outside_the_manifest_are_refused(etc: Path) -> None:
    from tandem.bundle.tarball import write_tar

    good = unpack(pack({"cluster.toml": (etc / "cluster.toml").read_bytes()}, "alpha", None, 0),
                  None)  # fmt: skip
    assert good.cluster == "alpha"
    inner = pack({"cluster.toml": (etc / "cluster.toml").read_bytes()}, "alpha", None, 0)
    with tarfile.open(fileobj=__import__("io").BytesIO(inner)) as tar:
        members = [(m.name, tar.extractfile(m).read(), 0o600) for m in tar]  # type: ignore[union-attr]
    smuggled = write_tar([*members, ("etc/tandem/secrets/evil", b"x", 0o600)], 0)
    assert "does not list" in refused(smuggled, etc)
    unsafe = write_tar([*members, ("../../etc/passwd", b"x", 0o600)], 0)
    assert "unsafe name" in refused(unsafe, etc)
