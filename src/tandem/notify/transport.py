"""Handing a mail to SMTP: through the configured relay host (STARTTLS and authentication
as configured), or without one straight to each recipient domain's MX (NT-1)."""

from __future__ import annotations

import ssl
from collections import defaultdict
from dataclasses import dataclass, field
from email.message import EmailMessage

import aiosmtplib
import dns.asyncresolver
import dns.exception
import dns.resolver

from tandem.config.model import NotificationSection
from tandem.errors import TandemError

TIMEOUT = 30.0


class DeliveryFailed(TandemError):
    """No server accepted the mail (for some recipients); it stays queued."""

    def __init__(self, message: str, remaining: list[str]) -> None:
        super().__init__(message)
        self.remaining = remaining


@dataclass(frozen=True)
class Delivered:
    via: str
    accepted: list[str]
    refused: dict[str, str] = field(default_factory=dict)  # permanent refusals (5xx)


def describe_relay(n: NotificationSection, password: str | None) -> str:
    tls = {"auto": "STARTTLS when offered", "starttls": "STARTTLS", "tls": "TLS", "off": "no TLS"}
    auth = f", AUTH as {n.relay_user}" if n.relay_user and password is not None else ""
    return f"relay {n.relay_host}:{n.relay_port} ({tls[n.relay_tls]}{auth})"


async def deliver(
    msg: EmailMessage | str,
    sender: str,
    recipients: list[str],
    n: NotificationSection,
    password: str | None,
    timeout: float = TIMEOUT,
) -> Delivered:
    if n.relay_host:
        return await _via_relay(msg, sender, recipients, n, password, timeout)
    return await _via_mx(msg, sender, recipients, timeout)


async def _via_relay(
    msg: EmailMessage | str,
    sender: str,
    recipients: list[str],
    n: NotificationSection,
    password: str | None,
    timeout: float,
) -> Delivered:
    assert n.relay_host is not None
    via = describe_relay(n, password)
    context = ssl.create_default_context(cafile=str(n.relay_ca) if n.relay_ca else None)
    authenticate = bool(n.relay_user and password is not None)
    try:
        errors, _ = await aiosmtplib.send(
            msg,
            sender=sender,
            recipients=recipients,
            hostname=n.relay_host,
            port=n.relay_port,
            timeout=timeout,
            use_tls=n.relay_tls == "tls",
            start_tls={"auto": None, "starttls": True}.get(n.relay_tls, False),
            tls_context=context if n.relay_tls != "off" else None,
            username=n.relay_user if authenticate else None,
            password=password if authenticate else None,
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise DeliveryFailed(f"{via}: {_reason(exc)}", recipients) from None
    return _outcome(via, recipients, errors)


def _outcome(
    via: str, recipients: list[str], errors: dict[str, aiosmtplib.SMTPResponse]
) -> Delivered:
    refused = {r: f"{e.code} {e.message}" for r, e in errors.items() if e.code >= 500}
    later = [r for r, e in errors.items() if e.code < 500]
    if later:
        raise DeliveryFailed(f"{via}: {later[0]} refused for now ({errors[later[0]]})", later)
    return Delivered(via, [r for r in recipients if r not in errors], refused)


async def _via_mx(
    msg: EmailMessage | str, sender: str, recipients: list[str], timeout: float
) -> Delivered:
    """Each domain's MX hosts by preference (its A record if it has none), port 25, with
    STARTTLS when offered and not verified (opportunistic, as MTAs do among each other)."""
    by_domain: dict[str, list[str]] = defaultdict(list)
    for r in recipients:
        by_domain[r.rpartition("@")[2].lower()].append(r)
    accepted: list[str] = []
    refused: dict[str, str] = {}
    remaining: list[str] = []
    problems: list[str] = []
    vias: list[str] = []
    for domain, rcpts in by_domain.items():
        try:
            hosts = await mx_hosts(domain)
        except DeliveryFailed as exc:
            problems.append(str(exc))
            remaining += rcpts
            continue
        for host in hosts:
            try:
                errors, _ = await aiosmtplib.send(
                    msg, sender=sender, recipients=rcpts, hostname=host, port=25,
                    timeout=timeout, start_tls=None, validate_certs=False,
                )  # fmt: skip
                done = _outcome(f"MX {host}", rcpts, errors)
            except (aiosmtplib.SMTPException, OSError, TimeoutError, DeliveryFailed) as exc:
                problems.append(f"MX {host} of {domain}: {_reason(exc)}")
                continue
            accepted += done.accepted
            refused |= done.refused
            vias.append(done.via)
            break
        else:
            remaining += rcpts
    if remaining:
        raise DeliveryFailed("; ".join(problems), remaining)
    return Delivered(", ".join(vias), accepted, refused)


async def mx_hosts(domain: str) -> list[str]:
    try:
        answer = await dns.asyncresolver.resolve(domain, "MX", lifetime=10)
        records = sorted(answer, key=lambda r: r.preference)
        hosts = [str(r.exchange).rstrip(".") for r in records]
        if hosts == [""]:  # "null MX" (RFC 7505): the domain takes no mail
            raise DeliveryFailed(f"{domain} takes no mail (null MX)", [])
        return hosts
    except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN) as exc:
        if isinstance(exc, dns.resolver.NXDOMAIN):
            raise DeliveryFailed(f"the domain {domain} does not exist", []) from None
        return [domain]  # no MX: the domain's own address (RFC 5321 5.1)
    except dns.exception.DNSException as exc:
        raise DeliveryFailed(f"no MX for {domain}: {exc}", []) from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{exc.code} {exc.message}"
    text = str(exc) or exc.__class__.__name__
    return " ".join(text.split())
