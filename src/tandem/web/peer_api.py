"""The node-to-node API under /peer/: only the other node, signed with the cluster key.

Not part of the operators' API description; docs/web.md describes it. Every route
depends on `verified`, which refuses unsigned, forged and replayed requests with 403.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tandem.config import InvalidConfig
from tandem.errors import ProtocolError, TandemError
from tandem.web import container_password, sysinfo, updates, ve_updates
from tandem.web.api.containers import manager
from tandem.web.api.updates import start_container, start_local
from tandem.web.changes import Stale
from tandem.web.context import web_of
from tandem.web.jobs import Busy
from tandem.web.store import Stamp, digest


async def verified(request: Request) -> None:
    web = web_of(request)
    body = await request.body()
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        web.verifier.verify(request.method, path, headers, body)
    except ProtocolError as exc:
        raise HTTPException(403, str(exc)) from None


router = APIRouter(prefix="/peer", include_in_schema=False, dependencies=[Depends(verified)])


class ConfigPush(BaseModel):
    toml: str
    stamp: dict[str, Any]


class AdminPassword(BaseModel):
    entry: str


class PanelPassword(BaseModel):
    entry: str | None  # None: the panel login is disabled


class RootPassword(BaseModel):
    hash: str


class ContainerPassword(BaseModel):
    veid: int
    hash: str


class JobRequest(BaseModel):
    kind: Literal["refresh", "apply"]


@router.get("/info")
async def info(request: Request) -> dict[str, Any]:
    return await asyncio.to_thread(sysinfo.node_info, web_of(request).me)


@router.get("/status")
async def status(request: Request) -> dict[str, Any]:
    return await asyncio.to_thread(web_of(request).local.collect)


@router.get("/config")
async def config(request: Request) -> dict[str, Any]:
    store = web_of(request).store
    text = store.text()
    stamp = store.stamp()
    return {"toml": text, "digest": digest(text), "stamp": None if stamp is None else asdict(stamp)}


@router.post("/config")
async def receive_config(request: Request, push: ConfigPush) -> JSONResponse:
    web = web_of(request)
    try:
        stamp = Stamp(**push.stamp)
        return JSONResponse(web.changes.receive_config(push.toml, stamp))
    except Stale as exc:
        return JSONResponse(
            {"message": str(exc), "toml": exc.text, "stamp": asdict(exc.stamp)}, status_code=409
        )
    except InvalidConfig as exc:
        return JSONResponse({"message": str(exc)}, status_code=422)
    except (TypeError, TandemError) as exc:
        return JSONResponse({"message": str(exc)}, status_code=422)


@router.post("/admin/password")
async def admin_password(request: Request, body: AdminPassword) -> JSONResponse:
    return _receive(request, "admin_password", body.model_dump())


@router.post("/root/password")
async def root_password(request: Request, body: RootPassword) -> JSONResponse:
    return _receive(request, "root_password", body.model_dump())


@router.post("/panel/password")
async def panel_password(request: Request, body: PanelPassword) -> JSONResponse:
    return _receive(request, "panel_password", body.model_dump())


@router.post("/container/password")
async def container_root_password(request: Request, body: ContainerPassword) -> JSONResponse:
    """Root's password of a container on this node's /vz (the peer's page asked: its /vz
    is not mounted); 404 when the container is not here either. Never forwarded again."""
    web = web_of(request)
    asked = f"asked on the Passwords page of {web.peer_id}"
    try:
        await asyncio.to_thread(container_password.apply_here, web, body.veid, body.hash, asked)
    except container_password.NotHere as exc:
        return JSONResponse({"message": str(exc)}, status_code=404)
    except (OSError, TandemError) as exc:
        return JSONResponse({"message": str(exc)}, status_code=422)
    return JSONResponse({"state": "applied"})


def _receive(request: Request, kind: str, payload: dict[str, Any]) -> JSONResponse:
    try:
        return JSONResponse(web_of(request).changes.receive(kind, payload))
    except (OSError, TandemError) as exc:
        return JSONResponse({"message": str(exc)}, status_code=422)


@router.get("/updates")
async def list_updates(request: Request) -> dict[str, Any]:
    return await asyncio.to_thread(updates.upgradable, web_of(request).settings.apt_env)


@router.post("/jobs")
async def start_job(request: Request, body: JobRequest) -> JSONResponse:
    try:
        return JSONResponse(start_local(web_of(request), body.kind))
    except Busy as exc:
        return JSONResponse({"message": str(exc)}, status_code=409)


@router.get("/jobs/{job_id}")
async def job(
    request: Request,
    job_id: str,
    since: int = Query(0, ge=0),
    wait: float = Query(0, ge=0, le=30),
) -> JSONResponse:
    web = web_of(request)
    found = web.jobs.get(job_id)
    if found is None:
        return JSONResponse({"message": f"no job {job_id} on {web.me}"}, status_code=404)
    if wait > 0:
        await web.jobs.wait(found, since, wait)
    return JSONResponse(found.view(since))


@router.get("/updates/container")
async def list_container_updates(request: Request) -> dict[str, Any]:
    """Container 101's updates as this node sees them; never asks back (no loop)."""
    return await asyncio.to_thread(ve_updates.upgradable, manager(request))


@router.post("/container/jobs")
async def start_container_job(request: Request, body: JobRequest) -> JSONResponse:
    """A job in container 101 here. Its own route: a node that does not know it answers
    404 rather than take the request for one of the base system's jobs."""
    try:
        return JSONResponse(await start_container(web_of(request), manager(request), body.kind))
    except (Busy, ve_updates.Unavailable) as exc:
        return JSONResponse({"message": str(exc)}, status_code=409)
