"""Encrypting a bundle with a passphrase: scrypt, then AES-256-GCM (OP-1).

Why these: scrypt is the memory-hard password KDF that the cryptography library offers
without extra dependencies, so guessing a passphrase costs memory as well as time (with
n=2**15, r=8, one guess needs 32 MiB). AES-256-GCM is authenticated encryption: a wrong
key or a changed byte makes decryption fail as a whole, so a tampered bundle is never
half-decrypted. AES is chosen over ChaCha20-Poly1305 because every server CPU tandem runs
on has AES instructions and AES-GCM is the FIPS-approved choice an auditor expects; for a
payload of a few kilobytes the speed does not matter either way. Each bundle has its own
random salt, so its own key, and so the random 96-bit nonce is never reused under a key.

The header (envelope) is bound to the ciphertext as associated data: changing its
parameters is detected too. It also carries a check value of the derived key, so that a
wrong passphrase is told apart from a changed bundle.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from tandem.bundle.tarball import BundleRefused

ENVELOPE_FORMAT = "tandem-bundle-encrypted"
ENVELOPE_VERSION = 1
CIPHER = "AES-256-GCM"
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
MAX_N = 2**20  # a header asking for more is refused, not obeyed (it could exhaust memory)
MIN_PASSPHRASE = 8


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> tuple[bytes, bytes]:
    material = Scrypt(salt=salt, length=64, n=n, r=r, p=p).derive(passphrase.encode())
    return material[:32], hashlib.sha256(b"tandem-bundle-check" + material[32:]).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def seal(plain: bytes, passphrase: str) -> tuple[bytes, bytes]:
    """(envelope, ciphertext) for `plain`."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise BundleRefused(f"a bundle passphrase needs at least {MIN_PASSPHRASE} characters")
    salt, nonce = os.urandom(16), os.urandom(12)
    key, check = _derive(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    envelope = json.dumps(
        {
            "format": ENVELOPE_FORMAT,
            "version": ENVELOPE_VERSION,
            "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P,
                    "salt": _b64(salt)},
            "cipher": CIPHER,
            "nonce": _b64(nonce),
            "check": _b64(check),
        },
        indent=1,
    ).encode()  # fmt: skip
    return envelope, AESGCM(key).encrypt(nonce, plain, envelope)


def unseal(envelope: bytes, ciphertext: bytes, passphrase: str | None) -> bytes:
    if passphrase is None:
        raise BundleRefused(
            "the bundle is encrypted; give its passphrase with --passphrase-file or "
            "--passphrase-stdin"
        )
    head = _parse(envelope)
    kdf = head["kdf"]
    try:
        salt = base64.b64decode(kdf["salt"], validate=True)
        nonce = base64.b64decode(head["nonce"], validate=True)
        check = base64.b64decode(head["check"], validate=True)
        n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
    except (KeyError, TypeError, ValueError):
        raise BundleRefused("the bundle's encryption header is damaged") from None
    if not (2 <= n <= MAX_N and n & (n - 1) == 0 and 1 <= r <= 16 and 1 <= p <= 4):
        raise BundleRefused("the bundle's encryption header asks for unreasonable scrypt costs")
    if len(nonce) != 12 or len(salt) < 16:
        raise BundleRefused("the bundle's encryption header is damaged")
    key, expected = _derive(passphrase, salt, n, r, p)
    if not hmac.compare_digest(check, expected):
        raise BundleRefused("the passphrase is wrong (it does not open this bundle)")
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, envelope)
    except InvalidTag:
        raise BundleRefused(
            "the bundle was changed after export: its encrypted content fails authentication"
        ) from None


def _parse(envelope: bytes) -> dict[str, Any]:
    try:
        head = json.loads(envelope)
    except ValueError:
        raise BundleRefused("the bundle's encryption header is not readable") from None
    if not isinstance(head, dict) or head.get("format") != ENVELOPE_FORMAT:
        raise BundleRefused("the bundle's encryption header is not a tandem one")
    if head.get("version") != ENVELOPE_VERSION:
        raise BundleRefused(
            f"the bundle is encrypted in format version {head.get('version')}; this tandem "
            f"reads version {ENVELOPE_VERSION}"
        )
    if head.get("cipher") != CIPHER or not isinstance(head.get("kdf"), dict):
        raise BundleRefused(f"the bundle uses cipher {head.get('cipher')}; tandem reads {CIPHER}")
    if head["kdf"].get("name") != "scrypt":
        raise BundleRefused("the bundle's key derivation is not scrypt")
    return head
