"""Switchover from the Maintenance page (MG-2, CM-2): the same request as `tandem switchover`.

The web asks this node's HA loop over its socket; on the passive node the loop asks the
active one on the heartbeat, so the button works on either node. The answer comes within
seconds (accepted, or refused with the reason); the move itself then shows on Status.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tandem import rpc
from tandem.errors import TandemError
from tandem.web.context import web_of
from tandem.web.forms import Form

router = APIRouter(prefix="/api", tags=["cluster"])


class SwitchoverForm(Form):
    force: bool = False


@router.post("/switchover", summary="Move the service group to the other node (CM-2)")
async def switchover(request: Request, form: SwitchoverForm) -> JSONResponse:
    socket = web_of(request).settings.crm_socket
    try:
        reply = await asyncio.to_thread(rpc.call, socket, "switchover", 15.0, force=form.force)
    except rpc.RpcUnavailable:
        return JSONResponse(
            {"message": f"the HA loop of this node does not answer on {socket}: "
                        "see `tandem node status` on this node"},
            status_code=409,  # the state of this node, not a fault of the web (no 5xx)
        )  # fmt: skip
    except TandemError as exc:  # refused, with the reason (the peer resyncs, ...)
        return JSONResponse({"message": str(exc)}, status_code=409)
    return JSONResponse(
        {"message": str(reply.get("accepted", "switchover accepted")), "token": reply.get("token")},
        status_code=202,
    )
