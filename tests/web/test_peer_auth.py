"""Node-to-node calls are signed with the cluster key; forged, stale and replayed requests
are refused (peer_auth.py), and the real server refuses them too."""

from __future__ import annotations

import pytest

from tandem.errors import ProtocolError
from tandem.web import peer_auth
from tests.web.conftest import Node

KEY = bytes(range(32))


def headers(signed: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in signed.items()}


def test_a_signed_request_passes_once() -> None:
    verifier = peer_auth.Verifier(KEY, "node2", clock=lambda: 1000.0)
    signed = peer_auth.sign(KEY, "node2", "POST", "/peer/config", b"{}", now=1000.0)
    verifier.verify("POST", "/peer/config", headers(signed), b"{}")
    with pytest.raises(ProtocolError, match="replayed"):
        verifier.verify("POST", "/peer/config", headers(signed), b"{}")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"body": b'{"x":1}'}, "bad signature"),
        ({"path": "/peer/admin/password"}, "bad signature"),
        ({"method": "GET"}, "bad signature"),
        ({"key": bytes(32)}, "bad signature"),
        ({"node": "node1"}, "only node2 calls here"),
        ({"now": 1000.0 - 61}, "clocks of the nodes differ"),
    ],
)
def test_anything_changed_is_refused(change: dict[str, object], words: str) -> None:
    verifier = peer_auth.Verifier(KEY, "node2", clock=lambda: 1000.0)
    key = change.get("key", KEY)
    node = change.get("node", "node2")
    now = change.get("now", 1000.0)
    signed = peer_auth.sign(key, node, "POST", "/peer/config", b"{}", now=now)  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match=words):
        verifier.verify(
            str(change.get("method", "POST")),
            str(change.get("path", "/peer/config")),
            headers(signed),
            change.get("body", b"{}"),  # type: ignore[arg-type]
        )


def test_unsigned_is_refused() -> None:
    with pytest.raises(ProtocolError, match="unsigned"):
        peer_auth.Verifier(KEY, "node2").verify("GET", "/peer/info", {}, b"")


def test_nonces_are_forgotten_after_twice_the_skew() -> None:
    now = [1000.0]
    verifier = peer_auth.Verifier(KEY, "node2", clock=lambda: now[0])
    for i in range(5):
        signed = peer_auth.sign(KEY, "node2", "GET", f"/peer/{i}", b"", now=now[0])
        verifier.verify("GET", f"/peer/{i}", headers(signed), b"")
    now[0] += 2 * peer_auth.SKEW + 1
    signed = peer_auth.sign(KEY, "node2", "GET", "/peer/x", b"", now=now[0])
    verifier.verify("GET", "/peer/x", headers(signed), b"")
    assert len(verifier._nonces) == 1


def test_the_server_refuses_a_forged_push(cluster: dict[str, Node]) -> None:
    node2 = cluster["node2"]
    body = b'{"toml": "", "stamp": {}}'
    forged = peer_auth.sign(bytes(32), "node1", "POST", "/peer/config", body)
    reply = node2.new_client().post("/peer/config", content=body, headers=forged)
    assert reply.status_code == 403
    assert "cluster.key" in reply.json()["detail"]
