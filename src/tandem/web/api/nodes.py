"""Version information of both nodes for the Home page (MG-2)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from tandem.web import sysinfo
from tandem.web.context import Web, web_of
from tandem.web.peer import PeerRefused, PeerUnreachable

router = APIRouter(prefix="/api", tags=["nodes"])


async def both_nodes(web: Web) -> dict[str, dict[str, Any]]:
    mine = await asyncio.to_thread(sysinfo.node_info, web.me)
    try:
        theirs = await web.peer.call("GET", "/peer/info", timeout=3.0)
        theirs["reachable"] = True
    except (PeerUnreachable, PeerRefused) as exc:
        theirs = {"node": web.peer_id, "reachable": False, "reason": str(exc)}
    mine["reachable"] = True
    return dict(sorted({web.me: mine, web.peer_id: theirs}.items()))


@router.get("/nodes", summary="Host name, kernel, hardware id, runtime and version of both nodes")
async def nodes(request: Request) -> dict[str, dict[str, Any]]:
    return await both_nodes(web_of(request))
