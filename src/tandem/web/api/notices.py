"""Pending changes and notices of changes that did not happen (DESIGN invariant 5)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tandem.web.context import web_of

router = APIRouter(prefix="/api", tags=["configuration"])


@router.get("/pending", summary="Changes waiting for the other node, and notices")
async def pending(request: Request) -> dict[str, Any]:
    return web_of(request).sync.summary()


@router.delete("/notices/{notice_id}", summary="Dismiss a notice")
async def dismiss(request: Request, notice_id: str) -> JSONResponse:
    if not web_of(request).journal.dismiss(notice_id):
        return JSONResponse({"message": f"no notice {notice_id}"}, status_code=404)
    return JSONResponse({"dismissed": notice_id})
