"""The cluster configuration from the pages: Network and Notification (MG-2), applied on
both nodes through changes.py (DESIGN invariant 5)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tandem.config import ClusterConfig, InvalidConfig, validate_config
from tandem.web.api.errors import invalid
from tandem.web.api.outcome import describe
from tandem.web.changes import NeedsConfirmation
from tandem.web.context import Web, translator, web_of
from tandem.web.forms import NetworkForm, NotificationForm
from tandem.web.i18n import N_

router = APIRouter(prefix="/api", tags=["configuration"])


def network_values(cfg: ClusterConfig) -> dict[str, Any]:
    n = cfg.network
    servers = [str(s) for s in n.dns_servers] + ["", ""]
    return {
        **{f"{node}_{key}": str(getattr(cfg.node(node), key))
           for node in ("node1", "node2") for key in ("hostname", "external", "crossover")},
        "netmask": str(n.netmask),
        "gateway": str(n.gateway) if n.gateway else "",
        "ping_nodes": [str(p) for p in cfg.ping.nodes],
        "dns_search": list(n.dns_search),
        "dns_server1": servers[0],
        "dns_server2": servers[1],
        "serial_heartbeat": cfg.heartbeat.serial.enabled,
        "external_heartbeat": cfg.heartbeat.external.enabled,
    }  # fmt: skip


def notification_values(cfg: ClusterConfig) -> dict[str, Any]:
    n = cfg.notification
    return {
        "addresses": list(n.address),
        "relay_host": n.relay_host or "",
        "relay_port": n.relay_port,
        "language": n.language,
        "events": list(n.events),
    }


# The Notification page's choice of events (MG-2 "which events", NT-1): each kind of
# tandem.config.model.EVENT_KINDS with a name and what it covers, in the page's language.
EVENT_CHOICES = {
    "failover": (N_("Failover and switchover"),
                 N_("the service group moves to the other node, starts or stops; a node is "
                    "fenced")),
    "updates": (N_("Updates"), N_("updates installed on a node or in container 101")),
    "paths": (N_("Heartbeat paths"),
              N_("failure or recovery of a heartbeat path (network connections, serial line)")),
    "replication": (N_("Replication"), N_("state changes of the replicated volume")),
    "containers": (N_("Containers"), N_("a container failed, was restarted or stopped")),
    "hardware": (N_("Hardware"), N_("power supplies, fans, temperatures")),
    "disks": (N_("Disks and RAID"), N_("SMART health of the disks, software RAID")),
    "other": (N_("Other events"),
              N_("remote support switched on or off, and events of any other kind")),
}  # fmt: skip


@router.get("/config", summary="The whole cluster configuration and its sync state")
async def get_config(request: Request) -> dict[str, Any]:
    web = web_of(request)
    stamp = web.store.stamp()
    return {
        "config": web.cfg().model_dump(mode="json"),
        "stamp": None if stamp is None else stamp.__dict__,
        "sync": web.sync.summary(),
    }


@router.get("/network", summary="The Network page's values")
async def get_network(request: Request) -> dict[str, Any]:
    return network_values(web_of(request).cfg())


@router.put("/network", summary="Change the network settings on both nodes")
async def put_network(request: Request, form: NetworkForm) -> JSONResponse:
    web = web_of(request)
    data, fields = form.merged(web.cfg())
    return await _apply(request, web, data, fields, form.confirm, "network settings")


@router.get("/notification", summary="The Notification page's values")
async def get_notification(request: Request) -> dict[str, Any]:
    return notification_values(web_of(request).cfg())


@router.put("/notification", summary="Change the notification settings on both nodes")
async def put_notification(request: Request, form: NotificationForm) -> JSONResponse:
    web = web_of(request)
    data, fields = form.merged(web.cfg())
    issue = form.relay_issue()
    if issue is not None:
        return invalid(translator(request), [issue], fields)
    return await _apply(request, web, data, fields, False, "notification settings")


async def _apply(
    request: Request,
    web: Web,
    data: dict[str, Any],
    fields: dict[str, str],
    confirm: bool,
    summary: str,
) -> JSONResponse:
    _ = translator(request)
    try:
        new = validate_config(data, "form")
    except InvalidConfig as exc:
        return invalid(_, exc.issues, fields)
    try:
        outcome = await web.changes.change_config(new, confirm, summary)
    except NeedsConfirmation as exc:
        return JSONResponse(
            {
                "message": _.gettext(
                    "This change restarts {services} on both nodes. While it restarts, the "
                    "nodes do not hear each other's heartbeat for a moment. Apply it?"
                ).format(services=", ".join(exc.services)),
                "needs_confirmation": True,
                "services": exc.services,
            },
            status_code=409,
        )
    return JSONResponse(describe(_, outcome))
