"""The remote support connection from the Maintenance page (OP-7, seed 5.6.3 Fernwartung):
its state, and switching it on and off, as `tandem support status|on|off` do.

The work is done by tandem.support.control (the same daemon, pid file and state file as
the command), below the web's `support_root`. A node without a support host is "not
configured", with what to set, rather than an error: most clusters never configure one.
Switching on waits for the tunnel (up to `support_wait`) in a thread, so the web keeps
serving meanwhile.
"""

from __future__ import annotations

import asyncio
import gettext
import subprocess
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tandem.errors import TandemError
from tandem.rootdir import Root
from tandem.support import control
from tandem.support.status import describe
from tandem.web.context import translator, web_of
from tandem.web.forms import SwitchForm
from tandem.web.i18n import N_

router = APIRouter(prefix="/api", tags=["maintenance"])

# The tunnel's states (tandem.support.tunnel.State), named here so the catalog has them.
STATES = (N_("connecting"), N_("up"), N_("down"), N_("off"), N_("starting"))


def not_configured(_: gettext.NullTranslations, config: str) -> str:
    return _.gettext(
        "Remote support is not configured: set [support] host (and, where they differ from "
        "the defaults, user, port and remote_port) in {config} on both nodes."
    ).format(config=config)


@router.get("/support", summary="The remote support connection: configured, on, tunnel state")
async def get_support(request: Request) -> dict[str, Any]:
    return await asyncio.to_thread(describe, Root(web_of(request).settings.support_root))


@router.put(
    "/support",
    summary="Switch the remote support connection on or off",
    responses={409: {"description": "not configured, or it could not be switched (message)"}},
)
async def set_support(request: Request, form: SwitchForm) -> JSONResponse:
    settings = web_of(request).settings
    _ = translator(request)
    root = Root(settings.support_root)
    if not form.on:
        try:
            was_on = await asyncio.to_thread(control.switch_off, root)
        except OSError as exc:  # not allowed to signal it: the web does not run as root
            return _refused(_.gettext("Remote support could not be switched off: {reason}"), exc)
        info = await asyncio.to_thread(describe, root)
        message = (_.gettext("Remote support is off: the tunnel is closed.") if was_on
                   else _.gettext("Remote support was not on."))  # fmt: skip
        return JSONResponse({"message": message, **info})
    info = await asyncio.to_thread(describe, root)
    if not info["configured"]:
        return JSONResponse({"message": not_configured(_, info["config"]), **info}, 409)
    try:
        await asyncio.to_thread(control.switch_on, root, settings.support_wait)
    except (TandemError, OSError, subprocess.SubprocessError) as exc:
        return _refused(_.gettext("Remote support could not be switched on: {reason}"), exc)
    info = await asyncio.to_thread(describe, root)
    if info["state"] == "up":
        message = _.gettext("Remote support is on: the tunnel to {host} is up.")
    else:
        message = _.gettext(
            "Remote support is switched on, but the tunnel to {host} is not up yet; it keeps "
            "trying (see the state below)."
        )
    return JSONResponse({"message": message.format(host=info["host"]), **info})


def _refused(sentence: str, exc: Exception) -> JSONResponse:
    """409: the node's state (no support host here, no ssh-keygen, ...), not a web fault."""
    return JSONResponse({"message": sentence.format(reason=str(exc))}, status_code=409)
