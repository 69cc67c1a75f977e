"""Serving the app over HTTPS on this node's external address (for operators) and on its
crossover address (for the peer), with the certificate from /etc/tandem/secrets.

The sockets are opened with IP_FREEBIND: at boot the crossover cable may not be up yet
(in the lab the peer may not even exist yet), and the web must not fail for that; it
answers on the address as soon as the address appears.
"""

from __future__ import annotations

import asyncio
import logging
import socket

import uvicorn

from tandem.web.app import create_app
from tandem.web.settings import WebSettings, identify

IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)
log = logging.getLogger("tandem.web")


def listen(address: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
    sock.bind((address, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def addresses(settings: WebSettings) -> list[tuple[str, int]]:
    cfg, me = identify(settings)
    node = cfg.node(me)
    return [(str(node.external), cfg.web.port), (str(node.crossover), cfg.web.port)]


def serve(settings: WebSettings, bind: list[tuple[str, int]] | None = None) -> None:
    where = bind or addresses(settings)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        ssl_keyfile=str(settings.secrets.tls_key),
        ssl_certfile=str(settings.secrets.tls_cert),
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=3,
    )
    sockets = [listen(a, p) for a, p in where]
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per peer call is noise
    log.info("serving https on %s", ", ".join(f"{a}:{p}" for a, p in where))
    asyncio.run(uvicorn.Server(config).serve(sockets=sockets))
