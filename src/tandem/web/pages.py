"""The HTML pages (MG-2). They read through the same functions as the JSON API and send
every change to it from the browser (static/app.js), so the API offers all they do."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tandem.errors import TandemError
from tandem.rootdir import Root
from tandem.support.status import describe as support_state
from tandem.web.api import containers
from tandem.web.api import maintenance as maintenance_mode
from tandem.web.api.config import EVENT_CHOICES, network_values, notification_values
from tandem.web.api.nodes import both_nodes
from tandem.web.auth import PANEL
from tandem.web.context import translator, web_of
from tandem.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/login")
async def login(request: Request) -> HTMLResponse:
    return page(request, "login.html", "login")


@router.get("/")
async def home(request: Request) -> HTMLResponse:
    return page(request, "home.html", "home", nodes=await both_nodes(web_of(request)))


@router.get("/network")
async def network(request: Request) -> HTMLResponse:
    return page(request, "network.html", "network", v=network_values(web_of(request).cfg()))


@router.get("/containers")
async def containers_page(request: Request) -> HTMLResponse:
    data = await asyncio.to_thread(containers.overview, containers.manager(request))
    return page(request, "containers.html", "containers", c=data)


@router.get("/containers/{veid}")
async def container_page(request: Request, veid: int) -> HTMLResponse:
    try:
        data = await asyncio.to_thread(containers.details, containers.manager(request), veid)
    except TandemError as exc:
        response = page(request, "container.html", "containers", ve=None, reason=str(exc))
        response.status_code = 404
        return response
    return page(request, "container.html", "containers", ve=data, reason=None)


@router.get("/maintenance")
async def maintenance(request: Request) -> HTMLResponse:
    manager = containers.manager(request)
    available = await asyncio.to_thread(containers.overview, manager)
    found = (
        await asyncio.to_thread(containers.cache_backups, manager) if available["available"] else []
    )
    settings = web_of(request).settings
    mode, remote = await asyncio.gather(
        asyncio.to_thread(maintenance_mode.read, translator(request), settings.crm_socket),
        asyncio.to_thread(support_state, Root(settings.support_root)),
    )
    snapshot = web_of(request).poller.snapshot
    group = snapshot.get("service_group", {"available": False, "reason": "status not read yet"})
    return page(
        request, "maintenance.html", "maintenance", c=available, cache_backups=found, g=group,
        mode=mode, support=remote,
    )  # fmt: skip


@router.get("/notification")
async def notification(request: Request) -> HTMLResponse:
    values = notification_values(web_of(request).cfg())
    return page(request, "notification.html", "notification", v=values, choices=EVENT_CHOICES)


@router.get("/passwords")
async def passwords(request: Request) -> HTMLResponse:
    enabled = web_of(request).passwords.enabled(PANEL)
    return page(request, "passwords.html", "passwords", panel_enabled=enabled)


@router.get("/updates")
async def updates_page(request: Request) -> HTMLResponse:
    """Both nodes' lists are loaded by the page from /api/updates/NODE (apt is slow)."""
    return page(request, "updates.html", "updates")


@router.get("/status")
async def status(request: Request) -> HTMLResponse:
    web = web_of(request)
    if not web.poller.snapshot:
        await web.poller.refresh()
    return page(request, "status.html", "status", s=web.poller.snapshot)
