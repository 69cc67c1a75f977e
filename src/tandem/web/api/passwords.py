"""The Passwords page (MG-2): the web login on both nodes, root on node1 and node2."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tandem.config import NodeId
from tandem.web import auth
from tandem.web.api.errors import field_error
from tandem.web.api.outcome import describe
from tandem.web.context import translator, web_of
from tandem.web.forms import PasswordForm
from tandem.web.passwords import BadPassword, check_new_password

router = APIRouter(prefix="/api", tags=["passwords"])


@router.post("/passwords", summary="Set the admin password (both nodes) or a node's root password")
async def set_password(request: Request, form: PasswordForm) -> JSONResponse:
    web = web_of(request)
    _ = translator(request)
    try:
        check_new_password(form.password)
    except BadPassword as exc:
        return field_error(_, "password", _.gettext("The password {problem}.").format(
            problem=_.gettext(str(exc))))  # fmt: skip
    if form.password != form.repeat:
        return field_error(_, "repeat", _.gettext("The two passwords differ."))
    if form.target == "admin":
        outcome = await web.changes.set_admin_password(form.password)
        if outcome.nodes[web.me].state == "applied":
            # This session stays valid; every other one ends with the old password.
            request.session["pw"] = web.passwords.fingerprint()
    else:
        node: NodeId = "node1" if form.target == "root-node1" else "node2"
        outcome = await web.changes.set_root_password(node, form.password)
    return JSONResponse(describe(_, outcome))


__all__ = ["auth", "router"]
