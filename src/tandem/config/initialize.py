"""`tandem init`: a working configuration and fresh secrets in one step.

The configuration is checked before anything is written, so bad arguments change nothing
(DESIGN invariant 6). Existing secrets are kept unless the operator asks for new ones: a
new cluster key on one node alone would cut it off from its peer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tandem.config.load import validate_config
from tandem.config.model import ClusterConfig
from tandem.config.secrets import (
    SecretPaths,
    ensure_secret_dir,
    generate_password,
    write_cluster_key,
    write_htpasswd,
    write_tls,
)
from tandem.config.write import render_config
from tandem.errors import ConfigError
from tandem.fsutil import atomic_write

MIN_PASSWORD = 8


@dataclass
class InitResult:
    config_file: Path
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    admin_password: str | None = None


def initialize(
    etc_dir: Path,
    data: dict[str, Any],
    *,
    admin_password: str | None = None,
    force: bool = False,
    new_secrets: bool = False,
) -> InitResult:
    """Validate `data` as a cluster configuration, then write it and any missing secrets."""
    cfg = validate_config(data, "tandem init")
    if admin_password is not None and len(admin_password) < MIN_PASSWORD:
        raise ConfigError(f"the admin password needs at least {MIN_PASSWORD} characters")
    config_file = etc_dir / "cluster.toml"
    if config_file.exists() and not force:
        raise ConfigError(
            f"{config_file} exists already; pass --force to replace it "
            "(its secrets are kept unless you also pass --new-secrets)"
        )
    result = InitResult(config_file)
    atomic_write(config_file, render_config(cfg), 0o644)
    result.written.append(config_file)
    _write_secrets(cfg, SecretPaths(etc_dir / "secrets"), result, admin_password, new_secrets)
    return result


def _write_secrets(
    cfg: ClusterConfig,
    paths: SecretPaths,
    result: InitResult,
    admin_password: str | None,
    renew: bool,
) -> None:
    ensure_secret_dir(paths.dir)

    def needed(path: Path) -> bool:
        if renew or not path.exists():
            result.written.append(path)
            return True
        result.kept.append(path)
        return False

    if needed(paths.cluster_key):
        write_cluster_key(paths.cluster_key)
    # Key and certificate belong together: if either is missing, both are made anew.
    if renew or not (paths.tls_key.exists() and paths.tls_cert.exists()):
        result.written += [paths.tls_key, paths.tls_cert]
        nodes = [cfg.node1, cfg.node2]
        write_tls(
            paths.tls_key,
            paths.tls_cert,
            [n.hostname for n in nodes],
            [n.external for n in nodes] + [n.crossover for n in nodes],
        )
    else:
        result.kept += [paths.tls_key, paths.tls_cert]
    if admin_password is not None:
        write_htpasswd(paths.htpasswd, "admin", admin_password)
        result.written.append(paths.htpasswd)
    elif needed(paths.htpasswd):
        result.admin_password = generate_password()
        write_htpasswd(paths.htpasswd, "admin", result.admin_password)
