"""Shutting a node down or restarting it from the Maintenance page (MG-2, seed 5.1.1
Wartung), for either node from either node's page.

The work is the same as `tandem node shutdown|reboot` (tandem.node.power): if the node
runs the service group, the group moves to the other node first, which takes seconds, so
it runs as a job whose lines the page follows. For the other node, the request goes over
the node-to-node API and the job runs there; when a node goes down, its job's stream
breaks off, which the page expects.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from tandem.config import NodeId
from tandem.node import power
from tandem.web.api.updates import start_job_on
from tandem.web.context import Web, web_of
from tandem.web.forms import Form
from tandem.web.jobs import Busy
from tandem.web.peer_api import verified

router = APIRouter(prefix="/api", tags=["maintenance"])
peer_router = APIRouter(prefix="/peer", include_in_schema=False, dependencies=[Depends(verified)])
TITLES = {"poweroff": "shut down", "reboot": "restart"}


class PowerForm(Form):
    action: Literal["poweroff", "reboot"]
    force: bool = False


def start_local(web: Web, form: PowerForm) -> dict[str, Any]:
    settings = web.settings

    def work(say: Any) -> str:
        return power.shut_down(
            form.action, form.force, say, settings.crm_socket, settings.node_socket
        )

    job = web.jobs.start_call(f"{TITLES[form.action]} {web.me}", work, "power")
    return job.view()


@router.post(
    "/nodes/{node}/power",
    summary="Shut a node down or restart it; if it runs the service group, the group "
    "moves to the other node first (a job)",
    status_code=202,
)
async def node_power(request: Request, node: NodeId, form: PowerForm) -> JSONResponse:
    web = web_of(request)
    return await start_job_on(
        request, node, lambda: start_local(web, form), "/peer/power", form.model_dump(), 202
    )


@peer_router.post("/power")
async def peer_power(request: Request, form: PowerForm) -> JSONResponse:
    try:
        return JSONResponse(start_local(web_of(request), form))
    except Busy as exc:
        return JSONResponse({"message": str(exc)}, status_code=409)
