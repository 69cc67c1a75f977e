"""The Passwords page (MG-2, seed 5.1.1 "setzen beziehungsweise deaktivieren"): the web
logins admin and panel on both nodes, root on node1 and node2, root of container 101."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tandem.config import NodeId
from tandem.web import auth, container_password
from tandem.web.api.errors import field_error
from tandem.web.api.outcome import describe
from tandem.web.changes import Outcome
from tandem.web.context import translator, web_of
from tandem.web.forms import PasswordForm
from tandem.web.passwords import BadPassword, check_new_password

router = APIRouter(prefix="/api", tags=["passwords"])


@router.get("/passwords", summary="Which web logins are enabled on this node (admin, panel)")
async def logins(request: Request) -> dict[str, Any]:
    passwords = web_of(request).passwords
    return {user: passwords.enabled(user) for user in auth.USERS}


@router.post(
    "/passwords",
    summary="Set a password: admin or panel (both nodes), root of a node, root of container 101",
)
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
    outcome: Outcome
    if form.target in auth.USERS:
        outcome = await web.changes.set_login_password(form.target, form.password)
        mine = outcome.nodes[web.me].state == "applied"
        if mine and request.session.get("user") == form.target:
            # This session changed its own user's password: it stays valid, and every
            # other session of that user ends with the old password. The other user's
            # sessions keep theirs (auth.py: one fingerprint per user).
            request.session["pw"] = web.passwords.fingerprint(form.target)
    elif form.target == "root-ve101":
        veid = container_password.VEID
        try:
            outcome = await container_password.set_root_password(web, veid, form.password)
        except container_password.Nowhere as exc:
            return JSONResponse(
                {"message": _.gettext("Container {veid} is on neither node.").format(veid=veid),
                 "errors": [{"field": "target", "key": "target", "message": _.gettext(
                     "Container {veid} is on neither node ({reasons}). Create it first: on "
                     "the Containers page of the active node, install container {veid} "
                     "from an OS template.").format(veid=veid, reasons=str(exc))}]},
                status_code=409,
            )  # fmt: skip
    else:
        node: NodeId = "node1" if form.target == "root-node1" else "node2"
        outcome = await web.changes.set_root_password(node, form.password)
    return JSONResponse(describe(_, outcome))


@router.delete("/passwords/panel", summary="Disable the container panel login (both nodes)")
async def disable_panel(request: Request) -> JSONResponse:
    """Its line leaves the htpasswd file on both nodes: the login is refused and every
    panel session ends; setting a password enables it again."""
    web = web_of(request)
    _ = translator(request)
    outcome = await web.changes.disable_login(auth.PANEL)
    return JSONResponse(describe(_, outcome))
