"""The configuration bundle as a download (OP-1, seed 7.2 "Konfiguration sichern").

The same file as `tandem config export` (tandem_<cluster>_<YYYYMMDD_HHMMSS>.tar with
cluster.toml and every secret, encrypted when a passphrase is given), handed to the browser
instead of written into a folder. It is packed in memory and never written on the node:
a file holding all of the cluster's secrets belongs where the operator keeps it, not in a
folder of the server that someone would have to remember to clean up. As with
export_bundle, a bundle that cannot be read back is never handed out.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from tandem.bundle.install import build_bundle
from tandem.bundle.seal import MIN_PASSPHRASE
from tandem.errors import TandemError
from tandem.web.context import translator, web_of
from tandem.web.forms import Form

router = APIRouter(prefix="/api", tags=["maintenance"])
MEDIA_TYPE = "application/x-tar"

Passphrase = Annotated[str, Field(max_length=200)]


class BundleForm(Form):
    """Both empty: a bundle without encryption (the page says the secrets are in clear)."""

    passphrase: Passphrase = ""
    repeat: Passphrase = Field("", description="The passphrase again; must be the same.")


def _refusal(request: Request, errors: list[dict[str, Any]]) -> JSONResponse:
    _ = translator(request)
    return JSONResponse(
        {"message": _.gettext("Nothing was downloaded: please correct the marked fields."),
         "errors": errors},
        status_code=422,
    )  # fmt: skip


@router.post(
    "/config/bundle",
    summary="Download this node's configuration bundle (cluster.toml and all secrets)",
    response_class=Response,
    responses={
        200: {
            "content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "description": "tandem_<cluster>_<YYYYMMDD_HHMMSS>.tar as an attachment",
        },
        409: {"description": "the bundle cannot be made (the reason is in message)"},
        422: {"description": "the passphrases differ or the passphrase is too short"},
    },
)
async def download(request: Request, form: BundleForm) -> Response:
    _ = translator(request)
    errors: list[dict[str, Any]] = []
    if form.passphrase and len(form.passphrase) < MIN_PASSPHRASE:
        errors.append({"field": "passphrase", "key": "passphrase", "message": _.gettext(
            "A passphrase needs at least {count} characters; leave both fields empty for a "
            "bundle without encryption.").format(count=MIN_PASSPHRASE)})  # fmt: skip
    if form.passphrase != form.repeat:
        errors.append({"field": "repeat", "key": "repeat",
                       "message": _.gettext("The two passphrases differ.")})  # fmt: skip
    if errors:
        return _refusal(request, errors)
    etc_dir = web_of(request).settings.etc_dir
    try:
        packed = await asyncio.to_thread(build_bundle, etc_dir, form.passphrase or None)
    except (TandemError, OSError) as exc:
        # A node whose files cannot be read is a state to fix there, not a fault (no 5xx).
        reason = str(exc) if isinstance(exc, TandemError) else f"{exc.filename}: {exc.strerror}"
        return JSONResponse(
            {"message": _.gettext("The bundle could not be made: {reason}").format(reason=reason)},
            status_code=409,
        )
    return Response(
        packed.data,
        media_type=MEDIA_TYPE,
        headers={
            "Content-Disposition": f"attachment; filename={packed.name}",
            "Cache-Control": "no-store",  # it holds secrets: no copy in any cache
        },
    )
