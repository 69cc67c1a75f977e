"""The cluster's secrets under /etc/tandem/secrets: cluster key, TLS key and certificate,
and the password file of the web's logins (admin, and the container panel user).

The password file is Apache's htpasswd format with bcrypt ("$2y$"), so that
`htpasswd -B /etc/tandem/secrets/htpasswd admin` run as root resets the web password
exactly as the seed's operators did (seed 7.1, OP-4).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path

import bcrypt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tandem.errors import ConfigError
from tandem.fsutil import atomic_write

SECRET_MODE = 0o600
KEY_BYTES = 32


@dataclass(frozen=True)
class SecretPaths:
    dir: Path

    @property
    def cluster_key(self) -> Path:
        return self.dir / "cluster.key"

    @property
    def tls_key(self) -> Path:
        return self.dir / "tls.key"

    @property
    def tls_cert(self) -> Path:
        return self.dir / "tls.crt"

    @property
    def htpasswd(self) -> Path:
        return self.dir / "htpasswd"

    def all(self) -> list[Path]:
        return [self.cluster_key, self.tls_key, self.tls_cert, self.htpasswd]


def ensure_secret_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)


def write_cluster_key(path: Path) -> None:
    atomic_write(path, secrets.token_hex(KEY_BYTES) + "\n", SECRET_MODE)


def read_cluster_key(path: Path) -> bytes:
    """The shared key behind every HMAC between the nodes (HB-5, DR-7)."""
    try:
        text = path.read_text().strip()
        key = bytes.fromhex(text)
    except FileNotFoundError:
        raise ConfigError(
            f"{path} is missing; copy it from the other node or run tandem init"
        ) from None
    except ValueError:
        raise ConfigError(f"{path} is not a hex key; copy it from the other node") from None
    if len(key) < 16:
        raise ConfigError(f"{path} holds only {len(key)} bytes; a cluster key needs at least 16")
    return key


def write_tls(
    key_path: Path, cert_path: Path, names: list[str], addresses: list[ipaddress.IPv4Address]
) -> None:
    """A self-signed certificate valid for both nodes' names and addresses, used by the
    web management and (optionally) the replication link; an operator may replace it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0] if names else "tandem")])
    now = dt.datetime.now(dt.UTC)
    alt_names: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    alt_names += [x509.IPAddress(a) for a in addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    atomic_write(key_path, key_pem, SECRET_MODE)
    atomic_write(cert_path, cert.public_bytes(serialization.Encoding.PEM), SECRET_MODE)


def htpasswd_entry(user: str, password: str, rounds: int = 12) -> str:
    """One line as `htpasswd -B` writes it ($2y$ is Apache's name for bcrypt)."""
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()
    return f"{user}:$2y${hashed[4:]}"


def write_htpasswd(path: Path, user: str, password: str) -> None:
    atomic_write(path, htpasswd_entry(user, password) + "\n", SECRET_MODE)


def set_htpasswd_entry(path: Path, user: str, entry: str) -> None:
    """Replace `user`'s line (or add it) and keep every other line, as `htpasswd` does."""
    if not entry.startswith(f"{user}:") or "\n" in entry:
        raise ConfigError(f"not an htpasswd line for {user}")
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        lines = []
    kept = [line for line in lines if line.partition(":")[0] != user]
    atomic_write(path, "\n".join([*kept, entry]) + "\n", SECRET_MODE)


def remove_htpasswd_entry(path: Path, user: str) -> bool:
    """Drop `user`'s line and keep every other line, as `htpasswd -D` does; False when
    there was none (already so)."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return False
    kept = [line for line in lines if line.partition(":")[0] != user]
    if len(kept) == len(lines):
        return False
    atomic_write(path, "".join(f"{line}\n" for line in kept), SECRET_MODE)
    return True


def htpasswd_hash(path: Path, user: str) -> str | None:
    """The stored hash of `user`, or None; a changed hash means a changed password."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        name, _, hashed = line.strip().partition(":")
        if name == user:
            return hashed
    return None


def check_password(path: Path, user: str, password: str) -> bool:
    """True if `password` matches `user`'s bcrypt entry; other hash kinds never match."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return False
    for line in lines:
        name, _, hashed = line.strip().partition(":")
        if name != user or not hashed.startswith(("$2y$", "$2b$", "$2a$")):
            continue
        try:
            return bcrypt.checkpw(password.encode(), ("$2b$" + hashed[4:]).encode())
        except ValueError:  # a damaged entry, or a password longer than bcrypt takes
            return False
    return False


def generate_password() -> str:
    return secrets.token_urlsafe(12)
