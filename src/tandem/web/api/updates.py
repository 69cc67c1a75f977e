"""Updates of each node's base system (MG-2 Updates) and the jobs that apply them."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from tandem.config import NodeId
from tandem.web import updates
from tandem.web.context import Web, translator, web_of
from tandem.web.jobs import Busy
from tandem.web.peer import PeerRefused, PeerUnreachable

router = APIRouter(prefix="/api", tags=["updates"])
Kind = Literal["refresh", "apply"]
JOB_ID = re.compile(r"[0-9a-f]{1,32}")
TITLES = {"refresh": "apt-get update", "apply": "apt-get upgrade"}


def start_local(web: Web, kind: Kind) -> dict[str, Any]:
    job = web.jobs.start(TITLES[kind], list(updates.KINDS[kind]), "apt", web.settings.apt_env)
    return job.view()


@router.get("/updates/{node}", summary="Updates available on a node")
async def list_updates(request: Request, node: NodeId) -> JSONResponse:
    web = web_of(request)
    if node == web.me:
        return JSONResponse(await asyncio.to_thread(updates.upgradable, web.settings.apt_env))
    try:
        return JSONResponse(await web.peer.call("GET", "/peer/updates", timeout=60.0))
    except (PeerUnreachable, PeerRefused) as exc:
        return JSONResponse({"available": False, "reason": str(exc)})


async def start_job_on(
    request: Request,
    node: NodeId,
    local: Callable[[], dict[str, Any]],
    peer_path: str,
    body: dict[str, Any],
    status_code: int = 200,
) -> JSONResponse:
    """A job on `node`: started here, or by the peer through `peer_path`; the answer is
    the job's view with the node, or 409 with why nothing was started."""
    web = web_of(request)
    _ = translator(request)
    try:
        job = local() if node == web.me else await web.peer.call("POST", peer_path, body)
    except Busy as exc:
        return JSONResponse({"message": str(exc)}, status_code=409)
    except PeerUnreachable as exc:
        return JSONResponse(
            {"message": _.gettext("{node} is not reachable: nothing was started ({why}).").format(
                node=node, why=exc)},
            status_code=409,
        )  # fmt: skip
    except PeerRefused as exc:
        return JSONResponse({"message": str(exc)}, status_code=409)
    return JSONResponse({"node": node, **job}, status_code=status_code)


@router.post("/updates/{node}/{kind}", summary="Check for updates (refresh) or apply them")
async def run_updates(request: Request, node: NodeId, kind: Kind) -> JSONResponse:
    web = web_of(request)
    return await start_job_on(
        request, node, lambda: start_local(web, kind), "/peer/jobs", {"kind": kind}
    )


async def job_view(
    web: Web, node: NodeId, job_id: str, since: int, wait: float
) -> dict[str, Any] | None:
    if not JOB_ID.fullmatch(job_id):
        return None  # job ids are hex (jobs.py); anything else names no job
    if node != web.me:
        try:
            return await web.peer.call(
                "GET", f"/peer/jobs/{job_id}?since={since}&wait={wait:g}", timeout=wait + 5
            )
        except PeerUnreachable as exc:
            return {"id": job_id, "state": "unknown", "lines": [], "next": since,
                    "message": str(exc)}  # fmt: skip
        except PeerRefused:
            return None
    job = web.jobs.get(job_id)
    if job is None:
        return None
    if wait > 0:
        await web.jobs.wait(job, since, wait)
    return job.view(since)


@router.get("/jobs/{node}/{job_id}", summary="A job's state and its output from line `since` on")
async def get_job(
    request: Request,
    node: NodeId,
    job_id: str,
    since: int = Query(0, ge=0, le=10**9),
    wait: float = Query(0, ge=0, le=30),
) -> JSONResponse:
    view = await job_view(web_of(request), node, job_id, since, wait)
    if view is None:
        return JSONResponse({"message": f"no job {job_id} on {node}"}, status_code=404)
    return JSONResponse(view)


@router.get("/jobs/{node}/{job_id}/stream", include_in_schema=False)
async def stream_job(request: Request, node: NodeId, job_id: str) -> StreamingResponse:
    """Server-sent events `job` with new lines until the job ends (then `end`)."""
    web = web_of(request)

    async def events() -> AsyncIterator[str]:
        since = 0
        while not await request.is_disconnected():
            view = await job_view(web, node, job_id, since, 15.0)
            if view is None:
                yield f"event: end\ndata: {json.dumps({'state': 'unknown'})}\n\n"
                return
            if view["lines"] or view["state"] != "running":
                yield f"event: job\ndata: {json.dumps(view)}\n\n"
            since = int(view["next"])
            if view["state"] not in ("running",):
                yield f"event: end\ndata: {json.dumps({'state': view['state']})}\n\n"
                return

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )
