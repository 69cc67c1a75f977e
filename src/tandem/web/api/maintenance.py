"""Maintenance mode of this node's HA loop, from the Maintenance page (`tandem crm
maintenance on|off`).

In maintenance mode the HA loop watches but starts, stops and moves nothing, like
Pacemaker's maintenance mode: an operator works on containers or the volume by hand and
the cluster does not undo it. The mode belongs to one node's HA loop (it is kept in that
node's state and survives a restart of the loop), so the page switches the loop of the node
that serves it, over the loop's own socket, exactly as the command does.
"""

from __future__ import annotations

import asyncio
import gettext
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tandem import rpc
from tandem.errors import TandemError
from tandem.web.context import translator, web_of
from tandem.web.forms import SwitchForm

router = APIRouter(prefix="/api", tags=["maintenance"])
TIMEOUT = 5.0  # the loop answers at once; it only records the mode
STATUS_TIMEOUT = 1.0  # as the status poller asks: a page must not hang on a stuck loop


def what_to_do(_: gettext.NullTranslations, socket: Path) -> str:
    return _.gettext(
        "the HA loop of this node does not answer on {socket}: see `tandem node status` on "
        "this node (service crm)"
    ).format(socket=socket)


def read(_: gettext.NullTranslations, socket: Path) -> dict[str, Any]:
    """{"available", "on", "reason"}: the loop's own word, or why there is none."""
    try:
        reply = rpc.call(socket, "status", STATUS_TIMEOUT)
    except rpc.RpcUnavailable:
        return {"available": False, "on": None, "reason": what_to_do(_, socket)}
    except (TandemError, ValueError) as exc:
        return {"available": False, "on": None, "reason": str(exc)}
    return {"available": True, "on": bool(reply.get("maintenance")), "reason": None}


@router.get("/maintenance-mode", summary="Whether this node's HA loop is in maintenance mode")
async def get_mode(request: Request) -> dict[str, Any]:
    return await asyncio.to_thread(read, translator(request), web_of(request).settings.crm_socket)


@router.put(
    "/maintenance-mode",
    summary="Switch maintenance mode of this node's HA loop on or off",
    responses={409: {"description": "the HA loop does not answer or refused (message says why)"}},
)
async def set_mode(request: Request, form: SwitchForm) -> JSONResponse:
    web = web_of(request)
    _ = translator(request)
    socket = web.settings.crm_socket
    try:
        reply = await asyncio.to_thread(rpc.call, socket, "maintenance", TIMEOUT, on=form.on)
    except rpc.RpcUnavailable:
        return JSONResponse(
            {"message": _.gettext("Maintenance mode was not changed: {reason}.").format(
                reason=what_to_do(_, socket))},
            status_code=409,  # the state of this node, not a fault of the web (no 5xx)
        )  # fmt: skip
    except (TandemError, ValueError) as exc:  # refused, or an answer that is not JSON
        return JSONResponse(
            {"message": _.gettext("Maintenance mode was not changed: {reason}.").format(
                reason=str(exc))},
            status_code=409,
        )  # fmt: skip
    on = bool(reply.get("maintenance"))
    if on:
        message = _.gettext(
            "Maintenance mode is on: the HA loop of {node} watches but starts, stops and "
            "moves nothing."
        )
    else:
        message = _.gettext("Maintenance mode is off: the HA loop of {node} acts again.")
    return JSONResponse({"message": message.format(node=web.me), "on": on})
