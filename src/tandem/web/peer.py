"""Calling the other node's web: HTTPS to its crossover address, else its external one.

Requests are signed with the cluster key (peer_auth.py) and the server is verified
against the cluster certificate, so a third machine can neither call nor impersonate a
node. The crossover link is tried first because it is the nodes' own cable; the external
network is the fallback, as heartbeats use every path (HB-1).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tandem.config import ClusterConfig, NodeId, peer_of
from tandem.errors import TandemError
from tandem.web import peer_auth


class PeerUnreachable(TandemError):
    """Nothing answered on any of the peer's addresses."""


class PeerRefused(TandemError):
    """The peer answered, and said no; the message is its own."""

    def __init__(self, status: int, message: str, data: dict[str, Any] | None = None) -> None:
        self.status = status
        self.data = data or {}
        super().__init__(message)


class PeerClient:
    def __init__(
        self,
        config: Callable[[], ClusterConfig],
        me: NodeId,
        key: bytes,
        cert: Path,
        timeout: float = 5.0,
    ) -> None:
        self.config = config
        self.me = me
        self.peer: NodeId = peer_of(me)
        self.key = key
        self.timeout = timeout
        context = ssl.create_default_context(cafile=str(cert))
        self._client = httpx.AsyncClient(verify=context, timeout=timeout)
        self.last_route: str | None = None

    def addresses(self) -> list[tuple[str, str]]:
        cfg = self.config()
        node = cfg.node(self.peer)
        return [("crossover", str(node.crossover)), ("external", str(node.external))]

    async def call(
        self, method: str, path: str, body: Any = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """One signed request; the reply's JSON, or PeerUnreachable / PeerRefused."""
        payload = b"" if body is None else json.dumps(body).encode()
        port = self.config().web.port
        failures = []
        for route, address in self.addresses():
            headers = peer_auth.sign(self.key, self.me, method, path, payload)
            headers["content-type"] = "application/json"
            try:
                reply = await self._client.request(
                    method,
                    f"https://{address}:{port}{path}",
                    content=payload,
                    headers=headers,
                    timeout=timeout or self.timeout,
                )
            except httpx.HTTPError as exc:
                failures.append(f"{route} {address}: {type(exc).__name__}")
                continue
            self.last_route = route
            return _reply(reply)
        self.last_route = None
        raise PeerUnreachable(f"{self.peer} does not answer ({'; '.join(failures)})")

    async def close(self) -> None:
        await self._client.aclose()


def _reply(reply: httpx.Response) -> dict[str, Any]:
    try:
        data = reply.json()
    except ValueError:
        data = {"message": reply.text[:200]}
    if reply.status_code >= 400:
        message = data.get("message") or data.get("detail") or f"HTTP {reply.status_code}"
        raise PeerRefused(reply.status_code, str(message), data if isinstance(data, dict) else {})
    if not isinstance(data, dict):
        raise PeerRefused(reply.status_code, "the peer answered something other than an object")
    return data
