"""Updates of each node's base system and of container 101 (MG-2 Updates), and the jobs
that apply them; an ended "install updates" job leaves an event that is mailed (NT-1)."""

from __future__ import annotations

import asyncio
import gettext
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from tandem.config import NodeId
from tandem.containers.manager import Containers
from tandem.web import update_events, updates, ve_updates
from tandem.web.api.containers import manager
from tandem.web.context import Web, translator, web_of
from tandem.web.jobs import Busy
from tandem.web.peer import PeerRefused, PeerUnreachable

router = APIRouter(prefix="/api", tags=["updates"])
Kind = Literal["refresh", "apply"]
JOB_ID = re.compile(r"[0-9a-f]{1,32}")
TITLES = {"refresh": "apt-get update", "apply": "apt-get upgrade"}
CONTAINER = f"container {ve_updates.VEID}"


def start_local(web: Web, kind: Kind) -> dict[str, Any]:
    argv = list(web.settings.apt_commands[kind])
    on_end = update_events.recorder(web.settings.event_log, web.me, web.me)
    job = web.jobs.start(TITLES[kind], argv, "apt", web.settings.apt_env,
                         on_end if kind == "apply" else None)  # fmt: skip
    return job.view()


async def start_container(web: Web, containers: Containers, kind: Kind) -> dict[str, Any]:
    """A job in container 101 on this node; ve_updates.Unavailable says why not."""
    argv = await asyncio.to_thread(ve_updates.command, containers, kind)
    where = f"{CONTAINER} on {web.me}"
    on_end = update_events.recorder(web.settings.event_log, web.me, where)
    job = web.jobs.start(f"{TITLES[kind]} in {CONTAINER}", argv, "apt-ve101", {},
                         on_end if kind == "apply" else None)  # fmt: skip
    return job.view()


# The container's routes come before /updates/{node}: that one would take "container" for
# a node's name and refuse it.


@router.get(
    "/updates/container",
    summary="Updates available in container 101, asked of the node where it runs",
)
async def list_container_updates(request: Request) -> JSONResponse:
    web = web_of(request)
    here = await asyncio.to_thread(ve_updates.upgradable, manager(request))
    if here["available"] or not here["elsewhere"]:
        return JSONResponse({**here, "node": web.me})
    peer = web.peer_id
    try:
        there = await web.peer.call("GET", "/peer/updates/container", timeout=90.0)
    except (PeerUnreachable, PeerRefused) as exc:
        reason = (f"{CONTAINER} is not on {web.me} ({here['reason']}), and {peer} does not "
                  f"answer ({exc}): open the Updates page of the node where the service group "
                  "runs")  # fmt: skip
        return JSONResponse({"available": False, "elsewhere": True, "node": None, "reason": reason})
    if there.get("available") or not there.get("elsewhere"):
        return JSONResponse({**there, "node": peer})
    reason = (f"/vz is mounted on neither {web.me} nor {peer}: {CONTAINER} runs nowhere now "
              "(the service group is not running)")  # fmt: skip
    return JSONResponse({"available": False, "elsewhere": True, "node": None, "reason": reason})


@router.post(
    "/updates/container/{kind}",
    summary="Check for updates (refresh) or apply them in container 101, on the node where it runs",
)
async def run_container_updates(request: Request, kind: Kind) -> JSONResponse:
    web = web_of(request)
    _ = translator(request)
    try:
        return JSONResponse({"node": web.me, **await start_container(web, manager(request), kind)})
    except Busy as exc:
        return JSONResponse({"message": str(exc)}, status_code=409)
    except ve_updates.Unavailable as exc:
        if not exc.elsewhere:
            return _not_started(_, str(exc))
        here = f"{web.me}: {exc}"
    try:
        job = await web.peer.call("POST", "/peer/container/jobs", {"kind": kind}, timeout=60.0)
    except PeerUnreachable as exc:
        return JSONResponse(
            {"message": _.gettext(
                "{container} is not on this node ({here}), and {node} is not reachable: "
                "nothing was started ({why})."
             ).format(container=CONTAINER, here=here, node=web.peer_id, why=exc)},
            status_code=409,
        )  # fmt: skip
    except PeerRefused as exc:
        return _not_started(_, f"{here}; {web.peer_id}: {exc}")
    return JSONResponse({"node": web.peer_id, **job})


def _not_started(_: gettext.NullTranslations, why: str) -> JSONResponse:
    message = _.gettext("Nothing was started: {why}.").format(why=why.rstrip("."))
    return JSONResponse({"message": message}, status_code=409)


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
