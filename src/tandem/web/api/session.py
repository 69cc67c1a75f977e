"""Login, logout, the session's CSRF token and the language choice (MG-1, MG-2 Home)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tandem.web import auth, csrf, i18n
from tandem.web.context import language, translator, web_of
from tandem.web.forms import LanguageForm, LoginForm

router = APIRouter(prefix="/api", tags=["session"])
LANGUAGE_COOKIE_SECONDS = 10 * 365 * 24 * 3600


@router.get("/session", summary="Who is logged in, the CSRF token, the language")
async def session(request: Request) -> dict[str, Any]:
    web = web_of(request)
    return {
        "user": auth.current_user(request.session, web.passwords),
        "csrf": csrf.token_of(request.session),
        "language": language(request),
        "node": web.me,
    }


@router.post("/login", summary="Log in as admin or panel (throttled after failures)")
async def login(request: Request, form: LoginForm) -> JSONResponse:
    web = web_of(request)
    _ = translator(request)
    client = request.client.host if request.client else "unknown"
    wait = web.throttle.retry_after(client)
    if wait > 0:
        return JSONResponse(
            {"message": _.gettext("Too many failed logins: try again in {seconds} s.").format(
                seconds=int(wait) + 1)},
            status_code=429,
            headers={"Retry-After": str(int(wait) + 1)},
        )  # fmt: skip
    ok = await asyncio.to_thread(web.passwords.check, form.user, form.password)
    if not ok:
        web.throttle.failed(client)
        return JSONResponse(
            {"message": _.gettext("Wrong user name or password."),
             "errors": [{"field": "password", "key": "password",
                         "message": _.gettext("Wrong user name or password.")}]},
            status_code=401,
        )  # fmt: skip
    web.throttle.succeeded(client)
    auth.log_in(request.session, form.user, web.passwords.fingerprint(form.user))
    csrf.token_of(request.session)  # a fresh token for the new session
    return JSONResponse({"user": form.user, "csrf": request.session["csrf"]})


@router.post("/logout", summary="End the session")
async def logout(request: Request) -> dict[str, Any]:
    request.session.clear()
    return {"user": None}


@router.put("/session/language", summary="Choose the language (remembered in a cookie)")
async def set_language(request: Request, form: LanguageForm) -> JSONResponse:
    request.session["lang"] = form.language
    response = JSONResponse({"language": form.language})
    response.set_cookie(
        i18n.COOKIE,
        form.language,
        max_age=LANGUAGE_COOKIE_SECONDS,
        secure=True,
        httponly=True,
        samesite="strict",
    )
    return response
