"""A real SMTP server (aiosmtpd) on 127.0.0.1 and a node's directories below a temporary
root, for the notifier's tests (NT-1)."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from tandem.config.secrets import write_tls
from tandem.rootdir import Root

HOST = socket.gethostname()
USER, PASSWORD = "tandem", "relay secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    envelope_from: str
    to: list[str]
    message: EmailMessage
    tls: bool
    user: str | None


@dataclass
class Inbox:
    mails: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:  # noqa: N802
        msg = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(msg, EmailMessage)
        user = session.auth_data.login.decode() if session.auth_data else None
        self.mails.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), msg,
                                   session.ssl is not None, user))  # fmt: skip
        return "250 accepted"

    def wait(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.mails) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.mails


class SmtpServer:
    """aiosmtpd on a fixed port that can be stopped and started again (the server down)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self.tls = tls
        self.controller: Controller | None = None

    def start(self) -> None:
        kwargs: dict[str, Any] = {}
        if self.tls is not None:
            kwargs = {"tls_context": self.tls, "require_starttls": True, "auth_required": True,
                      "authenticator": self._authenticate}  # fmt: skip
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @staticmethod
    def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                      data: Any) -> AuthResult:  # fmt: skip
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(), PASSWORD.encode())  # fmt: skip
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def write_config(
    root: Root,
    port: int,
    *,
    me: str = "node1",
    lang: str = "en",
    addresses: tuple[str, ...] = ("ops@example.com",),
    extra: str = "",
) -> None:
    """cluster.toml naming this host as `me`, mailing through the relay on 127.0.0.1."""
    other = "peer-host"
    names = {"node1": HOST if me == "node1" else other, "node2": HOST if me == "node2" else other}
    quoted = ", ".join(f'"{a}"' for a in addresses)
    root.config.parent.mkdir(parents=True, exist_ok=True)
    root.config.write_text(f"""
[cluster]
name = "alpha"
[node1]
hostname = "{names["node1"]}"
crossover = "192.168.255.1"
external = "10.0.0.11"
[node2]
hostname = "{names["node2"]}"
crossover = "192.168.255.2"
external = "10.0.0.12"
[notification]
address = [{quoted}]
relay_host = "127.0.0.1"
relay_port = {port}
relay_tls = "off"
language = "{lang}"
sender = "tandem@alpha.example.com"
{extra}
""")


@pytest.fixture
def root(tmp_path: Path, smtp: SmtpServer) -> Root:
    r = Root(tmp_path / "root")
    write_config(r, smtp.port)
    return r


def tls_server_context(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A self-signed certificate for 127.0.0.1, and a server context with it."""
    key, cert = directory / "relay.key", directory / "relay.crt"
    write_tls(key, cert, ["relay.test"], [IPv4Address("127.0.0.1")])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context, cert
