"""The cluster's status as JSON, once or as a live stream of server-sent events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from tandem.web.context import web_of
from tandem.web.render import status_fragment

router = APIRouter(prefix="/api", tags=["status"])
KEEPALIVE = 15.0


@router.get("/status", summary="The cluster's status (refreshed every second)")
async def status(request: Request) -> dict[str, Any]:
    web = web_of(request)
    if not web.poller.snapshot:
        await web.poller.refresh()
    return web.poller.snapshot


@router.get("/status/stream", include_in_schema=False)
async def status_stream(request: Request) -> StreamingResponse:
    """Server-sent events: `status` with {"data": snapshot, "html": the page's section}.
    Left out of the OpenAPI description because it never ends (see docs/web.md)."""
    web = web_of(request)

    async def events() -> AsyncIterator[str]:
        version = -1
        while not await request.is_disconnected():
            if not web.poller.snapshot:
                await web.poller.refresh()
            if web.poller.version != version:
                version = web.poller.version
                payload = {"data": web.poller.snapshot, "html": status_fragment(request)}
                yield f"event: status\ndata: {json.dumps(payload, default=str)}\n\n"
            elif not await web.poller.wait_newer(version, KEEPALIVE):
                yield ": keepalive\n\n"

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )
