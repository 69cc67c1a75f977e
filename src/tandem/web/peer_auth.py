"""Authentication of node-to-node calls: HMAC-SHA256 with the cluster key.

The caller proves it holds /etc/tandem/secrets/cluster.key by signing the method, path,
time, a nonce, its node name and a digest of the body; the callee checks the signature,
that the time is within SKEW seconds of its own clock, and that the nonce was not seen
before (replay). The callee proves itself by TLS: the caller verifies the server against
the cluster certificate (tls.crt), which only the two nodes have the key of. So both
directions are authenticated without client certificates on the operators' port.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tandem.errors import ProtocolError

SKEW = 60.0
HEADERS = ("x-tandem-node", "x-tandem-time", "x-tandem-nonce", "x-tandem-signature")


def _message(method: str, path: str, stamp: str, nonce: str, node: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), path, stamp, nonce, node, digest]).encode()


def sign(
    key: bytes, node: str, method: str, path: str, body: bytes, now: float | None = None
) -> dict[str, str]:
    stamp = f"{time.time() if now is None else now:.3f}"
    nonce = secrets.token_hex(16)
    mac = hmac.new(key, _message(method, path, stamp, nonce, node, body), hashlib.sha256)
    return {
        "X-Tandem-Node": node,
        "X-Tandem-Time": stamp,
        "X-Tandem-Nonce": nonce,
        "X-Tandem-Signature": mac.hexdigest(),
    }


@dataclass
class Verifier:
    """Checks signed requests; remembers nonces for twice the allowed skew."""

    key: bytes
    expected_node: str
    clock: Callable[[], float] = time.time
    max_nonces: int = 100_000

    def __post_init__(self) -> None:
        self._nonces: OrderedDict[str, float] = OrderedDict()

    def verify(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> None:
        node, stamp, nonce, signature = (headers.get(h, "") for h in HEADERS)
        if not all((node, stamp, nonce, signature)):
            raise ProtocolError("unsigned request: node-to-node calls need the cluster key")
        if node != self.expected_node:
            raise ProtocolError(f"signed as {node!r}, but only {self.expected_node} calls here")
        try:
            sent = float(stamp)
        except ValueError:
            raise ProtocolError("bad X-Tandem-Time") from None
        now = self.clock()
        if abs(now - sent) > SKEW:
            raise ProtocolError(
                f"the clocks of the nodes differ by {abs(now - sent):.0f} s (at most {SKEW:.0f} "
                "allowed): synchronise them (NTP)"
            )
        mac = hmac.new(self.key, _message(method, path, stamp, nonce, node, body), hashlib.sha256)
        if not hmac.compare_digest(mac.hexdigest(), signature):
            raise ProtocolError("bad signature: the nodes do not share the same cluster.key")
        self._forget(now)
        if nonce in self._nonces:
            raise ProtocolError("replayed request refused")
        self._nonces[nonce] = now

    def _forget(self, now: float) -> None:
        while self._nonces:
            oldest, seen = next(iter(self._nonces.items()))
            if now - seen <= 2 * SKEW and len(self._nonces) < self.max_nonces:
                break
            del self._nonces[oldest]
