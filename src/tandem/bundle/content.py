"""What a bundle holds: cluster.toml, every file under secrets/, and a manifest with the
SHA-256 of each, the cluster's name and the format version (OP-1).

Layout of the tar (always named tandem_<cluster>_<YYYYMMDD_HHMMSS>.tar):

    plain:      manifest.json, etc/tandem/cluster.toml, etc/tandem/secrets/...,
                manifest.sha256 (the SHA-256 of manifest.json)
    encrypted:  encryption.json (scrypt and AES-256-GCM parameters), payload.bin
                (the plain tar above, encrypted; see seal.py)
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tandem import __version__
from tandem.bundle.seal import seal, unseal
from tandem.bundle.tarball import NAME, BundleRefused, read_tar, write_tar
from tandem.config import ClusterConfig, InvalidConfig, parse_config

FORMAT = "tandem-bundle"
VERSION = 1
MANIFEST = "manifest.json"
SEAL = "manifest.sha256"  # the manifest's own SHA-256: its dates and names are checked too
ENVELOPE = "encryption.json"
PAYLOAD = "payload.bin"
PREFIX = "etc/tandem/"
CONFIG = "cluster.toml"
SECRETS = "secrets/"
MAX_BUNDLE = 64 << 20


@dataclass(frozen=True)
class Bundle:
    cluster: str
    created: str
    created_on: str
    encrypted: bool
    config: ClusterConfig
    files: dict[str, bytes]  # path under /etc/tandem -> content

    def mode(self, rel: str) -> int:
        return 0o644 if rel == CONFIG else 0o600


def bundle_name(cluster: str, when: float) -> str:
    return f"tandem_{cluster}_{time.strftime('%Y%m%d_%H%M%S', time.localtime(when))}.tar"


def collect(etc_dir: Path) -> dict[str, bytes]:
    """cluster.toml and every regular file below secrets/, by path under etc_dir."""
    files = {CONFIG: (etc_dir / CONFIG).read_bytes()}
    secrets = etc_dir / "secrets"
    if secrets.is_dir():
        for path in sorted(secrets.rglob("*")):
            if path.is_file() and not path.is_symlink() and not path.name.startswith("."):
                rel = path.relative_to(etc_dir).as_posix()
                if not NAME.match(rel):
                    raise BundleRefused(f"{path} has a name a bundle cannot carry; rename it")
                files[rel] = path.read_bytes()
    return files


def pack(files: dict[str, bytes], cluster: str, passphrase: str | None, when: float) -> bytes:
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "cluster": cluster,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(when)),
        "created_on": socket.gethostname(),
        "tandem": __version__,
        "files": [
            {"path": rel, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for rel, data in files.items()
        ],
    }
    manifest_bytes = json.dumps(manifest, indent=1).encode() + b"\n"
    members = [(MANIFEST, manifest_bytes, 0o600)]
    members += [
        (PREFIX + rel, data, 0o644 if rel == CONFIG else 0o600) for rel, data in files.items()
    ]
    members.append((SEAL, _digest(manifest_bytes), 0o600))
    plain = write_tar(members, when)
    if passphrase is None:
        return plain
    envelope, ciphertext = seal(plain, passphrase)
    return write_tar([(ENVELOPE, envelope, 0o600), (PAYLOAD, ciphertext, 0o600)], when)


def unpack(data: bytes, passphrase: str | None) -> Bundle:
    """The bundle's content after every check; BundleRefused with the reason otherwise."""
    if len(data) > MAX_BUNDLE:
        raise BundleRefused(f"the file has {len(data)} bytes; a bundle has a few kilobytes")
    outer = read_tar(data)
    encrypted = ENVELOPE in outer
    if encrypted:
        if list(outer) != [ENVELOPE, PAYLOAD]:
            raise BundleRefused(
                f"the encrypted bundle holds {', '.join(outer)}; expected {ENVELOPE} and {PAYLOAD}"
            )
        inner = read_tar(unseal(outer[ENVELOPE], outer[PAYLOAD], passphrase), "the payload")
    else:
        inner = outer
    manifest = _manifest(inner)
    files = _files(inner, manifest)
    try:
        config = parse_config(files[CONFIG].decode("utf-8"), "the bundle's cluster.toml")
    except UnicodeDecodeError:
        raise BundleRefused("the bundle's cluster.toml is not text") from None
    except InvalidConfig as exc:
        raise BundleRefused(f"the bundle's configuration is invalid: {exc}") from None
    if config.cluster.name != manifest["cluster"]:
        raise BundleRefused(
            f"the manifest names cluster {manifest['cluster']}, its cluster.toml "
            f"{config.cluster.name}"
        )
    return Bundle(
        cluster=config.cluster.name,
        created=str(manifest.get("created", "")),
        created_on=str(manifest.get("created_on", "")),
        encrypted=encrypted,
        config=config,
        files=files,
    )


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).hexdigest().encode() + b"\n"


def _manifest(members: dict[str, bytes]) -> dict[str, Any]:
    if MANIFEST not in members:
        raise BundleRefused(f"not a tandem bundle: it has no {MANIFEST}")
    if SEAL not in members:
        raise BundleRefused(f"the bundle is incomplete: {SEAL} is missing")
    if members[SEAL] != _digest(members[MANIFEST]):
        raise BundleRefused(
            f"the bundle was changed after export: {MANIFEST} does not match its SHA-256"
        )
    try:
        manifest = json.loads(members[MANIFEST])
    except ValueError:
        raise BundleRefused(f"the bundle's {MANIFEST} is not readable JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleRefused(f"not a tandem bundle: {MANIFEST} does not say format {FORMAT}")
    if manifest.get("version") != VERSION:
        raise BundleRefused(
            f"the bundle has format version {manifest.get('version')}; this tandem reads "
            f"version {VERSION}"
        )
    if not isinstance(manifest.get("cluster"), str) or not isinstance(manifest.get("files"), list):
        raise BundleRefused(f"the bundle's {MANIFEST} lacks the cluster name or the file list")
    return manifest


def _files(members: dict[str, bytes], manifest: dict[str, Any]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for entry in manifest["files"]:
        try:
            rel, size, digest = str(entry["path"]), int(entry["size"]), str(entry["sha256"])
        except (KeyError, TypeError, ValueError):
            raise BundleRefused(f"the bundle's {MANIFEST} has a damaged entry") from None
        if rel != CONFIG and not rel.startswith(SECRETS):
            raise BundleRefused(f"the manifest lists {rel}, which a bundle never carries")
        data = members.get(PREFIX + rel)
        if data is None:
            raise BundleRefused(f"the bundle is incomplete: {rel} is in the manifest but missing")
        if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
            raise BundleRefused(
                f"the bundle was changed after export: {rel} does not match its SHA-256 in "
                "the manifest"
            )
        files[rel] = data
    extra = [
        name
        for name in members
        if name not in (MANIFEST, SEAL) and name[len(PREFIX) :] not in files
    ]
    if extra:
        raise BundleRefused(f"the bundle holds files its manifest does not list: {extra[0]}")
    if CONFIG not in files:
        raise BundleRefused("the bundle has no cluster.toml")
    return files
