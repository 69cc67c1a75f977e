"""What the pages and the API send, and how errors find their fields.

The request models only shape the input (strings, lists, switches); the decision whether a
value is valid is made by the configuration's own model and rules (`validate_config`),
exactly as for `tandem config check` (MG-4, DESIGN invariant 6). Their findings are keyed
by configuration key ("network.gateway", "ping.nodes[1]"); FIELDS maps them back to the
form field beside which the page shows them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tandem.config import ClusterConfig, ConfigIssue
from tandem.config.model import EVENT_KINDS

Text = Annotated[str, Field(max_length=253)]


class Form(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NetworkForm(Form):
    """The Network page (seed 5.1.1 Netzwerk)."""

    node1_hostname: Text
    node1_external: Text
    node1_crossover: Text
    node2_hostname: Text
    node2_external: Text
    node2_crossover: Text
    netmask: Text
    gateway: Text = ""
    ping_nodes: Annotated[list[Text], Field(max_length=16)] = []
    dns_search: Annotated[list[Text], Field(max_length=6)] = []
    dns_server1: Text = ""
    dns_server2: Text = ""
    serial_heartbeat: bool = True
    external_heartbeat: bool = True
    confirm: bool = Field(False, description="Apply even though services restart.")

    def merged(self, cfg: ClusterConfig) -> tuple[dict[str, Any], dict[str, str]]:
        """The whole configuration with this form's values in it, and where errors go."""
        data = cfg.model_dump(mode="json")
        for node in ("node1", "node2"):
            for key in ("hostname", "external", "crossover"):
                data[node][key] = getattr(self, f"{node}_{key}").strip()
        network = data["network"]
        network["netmask"] = self.netmask.strip()
        network["gateway"] = self.gateway.strip() or None
        entered = (("dns_server1", self.dns_server1), ("dns_server2", self.dns_server2))
        servers = [(f, v.strip()) for f, v in entered if v.strip()]
        network["dns_servers"] = [v for _, v in servers]
        network["dns_search"] = [d.strip() for d in self.dns_search if d.strip()]
        data["ping"]["nodes"] = [p.strip() for p in self.ping_nodes if p.strip()]
        data["heartbeat"]["serial"]["enabled"] = self.serial_heartbeat
        data["heartbeat"]["external"]["enabled"] = self.external_heartbeat
        fields = {
            **{
                f"{n}.{k}": f"{n}_{k}"
                for n in ("node1", "node2")
                for k in ("hostname", "external", "crossover")
            },
            "network.netmask": "netmask",
            "network.gateway": "gateway",
            "network.dns_search": "dns_search",
            "network.dns_servers": "dns_server1",
            "ping.nodes": "ping_nodes",
            "heartbeat.serial.enabled": "serial_heartbeat",
            "heartbeat.external.enabled": "external_heartbeat",
            **{f"network.dns_servers[{i}]": f for i, (f, _) in enumerate(servers)},
        }
        return data, fields


HOST = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


class NotificationForm(Form):
    """The Notification page (seed 5.1.1 Benachrichtigung)."""

    addresses: Annotated[list[Text], Field(max_length=10)] = []
    relay_host: Text = ""
    relay_port: Annotated[int, Field(ge=1, le=65535)] = 25
    language: Literal["de", "en"] = "de"
    events: Annotated[
        list[Annotated[str, Field(max_length=32)]] | None,
        Field(
            max_length=16,
            description=f"The kinds of events that are mailed (NT-1), of "
            f"{', '.join(EVENT_KINDS)}; an empty list mails none. Left out: unchanged.",
        ),
    ] = None

    def merged(self, cfg: ClusterConfig) -> tuple[dict[str, Any], dict[str, str]]:
        data = cfg.model_dump(mode="json")
        # The page shows only these keys; the others (sender, relay_user, ...) are kept.
        data["notification"].update(
            address=[a.strip() for a in self.addresses if a.strip()],
            relay_host=self.relay_host.strip() or None,
            relay_port=self.relay_port,
            language=self.language,
        )
        if self.events is not None:
            # Whether each is a kind is for the configuration's model to say, as ever.
            data["notification"]["events"] = [e.strip() for e in self.events]
        fields = {
            "notification.address": "addresses",
            "notification.relay_host": "relay_host",
            "notification.relay_port": "relay_port",
            "notification.language": "language",
            "notification.events": "events",
        }
        return data, fields

    def relay_issue(self) -> ConfigIssue | None:
        """The model takes any text as relay host; a mail relay needs a host name."""
        host = self.relay_host.strip()
        if host and not HOST.match(host):
            return ConfigIssue("notification.relay_host", host, "not a host name or address",
                               "a host name like mail.example.com or an IPv4 address")  # fmt: skip
        return None


class PasswordForm(Form):
    """The Passwords page (seed 5.1.1 Passwoerter): the web's admin, root of each node,
    root of container 101, the container panel user."""

    target: Literal["admin", "root-node1", "root-node2", "root-ve101", "panel"]
    password: Annotated[str, Field(max_length=200)]
    repeat: Annotated[str, Field(max_length=200)]


class LoginForm(Form):
    user: Annotated[str, Field(max_length=64)]
    password: Annotated[str, Field(max_length=200)]


class LanguageForm(Form):
    language: Literal["de", "en"]


class SwitchForm(Form):
    """The body of an on/off button (maintenance mode, remote support)."""

    on: bool


def field_for(key: str, fields: dict[str, str]) -> str | None:
    """The form field of a configuration key; list items fall back to their list."""
    if key in fields:
        return fields[key]
    return fields.get(re.sub(r"\[\d+\]$", "", key))
