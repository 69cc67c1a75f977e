"""Exporting this node's configuration as a bundle, and installing one (OP-1, OP-2, OP-3).

Installing happens in two phases so that a refusal or a failure changes nothing (DESIGN
invariant 6): first the whole bundle is checked (archive, manifest, checksums, decryption,
the configuration against the model and its rules, and that it belongs to this cluster);
then every file is written to a temporary file beside its destination and synced, and only
when all are written are they renamed into place. The files this node had before are kept
as a plain bundle under /etc/tandem/replaced/, readable by root only.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tandem.bundle.content import CONFIG, Bundle, bundle_name, collect, pack, unpack
from tandem.bundle.tarball import BundleRefused, write_tar
from tandem.config import InvalidConfig, load_config
from tandem.config.secrets import SECRET_MODE, ensure_secret_dir
from tandem.fsutil import atomic_write


@dataclass(frozen=True)
class Exported:
    path: Path
    cluster: str
    files: list[str]
    encrypted: bool


@dataclass(frozen=True)
class Built:
    name: str  # tandem_<cluster>_<YYYYMMDD_HHMMSS>.tar
    cluster: str
    files: list[str]
    data: bytes


def build_bundle(etc_dir: Path, passphrase: str | None) -> Built:
    """The bundle in memory (the web hands it to the browser without writing it)."""
    try:
        cfg = load_config(etc_dir / CONFIG)
    except InvalidConfig as exc:
        raise BundleRefused(f"this node's configuration cannot be exported: {exc}") from None
    when = time.time()
    files = collect(etc_dir)
    data = pack(files, cfg.cluster.name, passphrase, when)
    unpack(data, passphrase)  # what cannot be read back is never handed out
    return Built(bundle_name(cfg.cluster.name, when), cfg.cluster.name, list(files), data)


def export_bundle(etc_dir: Path, output_dir: Path, passphrase: str | None) -> Exported:
    """Write tandem_<cluster>_<time>.tar into output_dir (mode 0600: it holds secrets)."""
    built = build_bundle(etc_dir, passphrase)
    target = output_dir / built.name
    atomic_write(target, built.data, SECRET_MODE)
    return Exported(target, built.cluster, built.files, passphrase is not None)


@dataclass(frozen=True)
class Plan:
    bundle: Bundle
    etc_dir: Path
    changes: dict[str, str]  # path under etc_dir -> "new", "changed" or "same"
    kept: list[str] = field(default_factory=list)  # files here that the bundle does not carry
    fresh: bool = False  # this node had no configuration


def plan_import(
    data: bytes, etc_dir: Path, passphrase: str | None, *, foreign_ok: bool = False
) -> Plan:
    """Every check, no change: the Plan says what installing would do."""
    bundle = unpack(data, passphrase)
    fresh = not (etc_dir / CONFIG).exists()
    if not fresh and not foreign_ok:
        _check_same_cluster(bundle, etc_dir)
    changes = {}
    for rel, content in bundle.files.items():
        try:
            changes[rel] = "same" if (etc_dir / rel).read_bytes() == content else "changed"
        except FileNotFoundError:
            changes[rel] = "new"
    kept = []
    if not fresh:
        kept = [rel for rel in collect_quietly(etc_dir) if rel not in bundle.files]
    return Plan(bundle, etc_dir, changes, kept, fresh)


def collect_quietly(etc_dir: Path) -> list[str]:
    try:
        return list(collect(etc_dir))
    except (OSError, BundleRefused):
        return []


def _check_same_cluster(bundle: Bundle, etc_dir: Path) -> None:
    try:
        here = load_config(etc_dir / CONFIG)
    except InvalidConfig:
        raise BundleRefused(
            f"this node's {etc_dir / CONFIG} is not valid, so it cannot be told whether the "
            "bundle belongs to this cluster; pass --foreign-ok to replace it"
        ) from None
    if here.cluster.name != bundle.cluster:
        raise BundleRefused(
            f"the bundle is from cluster {bundle.cluster}, this node belongs to cluster "
            f"{here.cluster.name}; pass --foreign-ok to replace this node's configuration"
        )
    key = "secrets/cluster.key"
    try:
        local_key = (etc_dir / key).read_bytes()
    except FileNotFoundError:
        return
    if key in bundle.files and bundle.files[key] != local_key:
        raise BundleRefused(
            f"the bundle names cluster {bundle.cluster} but carries another cluster key than "
            "this node's: it is from another cluster of that name, or from before the key "
            "was changed; pass --foreign-ok if it is the one to install"
        )


def install(plan: Plan) -> Path | None:
    """Put the bundle's files in place; return where the replaced files were kept."""
    etc_dir = plan.etc_dir
    kept_copy = None
    if not plan.fresh and any(v == "changed" for v in plan.changes.values()):
        kept_copy = _keep_old(etc_dir)
    ensure_secret_dir(etc_dir / "secrets")
    staged: list[tuple[Path, Path]] = []
    try:
        for rel, content in plan.bundle.files.items():
            target = etc_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            staged.append((Path(tmp_name), target))
            os.fchmod(fd, plan.bundle.mode(rel))
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
    except BaseException:
        for staged_tmp, _ in staged:
            staged_tmp.unlink(missing_ok=True)
        raise
    for tmp, target in staged:
        tmp.replace(target)
    for directory in {target.parent for _, target in staged}:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return kept_copy


def _keep_old(etc_dir: Path) -> Path | None:
    try:
        files = collect(etc_dir)
    except (OSError, BundleRefused):
        return None
    when = time.time()
    target = etc_dir / "replaced" / bundle_name("replaced", when)
    target.parent.mkdir(mode=0o700, exist_ok=True)
    atomic_write(target, write_tar([(rel, d, 0o600) for rel, d in files.items()], when), 0o600)
    return target
