"""The web application: pages, JSON API and node-to-node API behind one gate.

Middleware order matters: the session cookie is read first, then the guard refuses
requests without a session or without a CSRF token (guard.py), then the routes run.
Background tasks (the status poller and the configuration sync) live as long as the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from tandem import __version__
from tandem.config.secrets import read_cluster_key
from tandem.web import auth
from tandem.web.api import (
    bundle,
    cluster,
    config,
    containers,
    maintenance,
    nodes,
    notices,
    passwords,
    session,
    status,
    support,
    updates,
)
from tandem.web.api.errors import request_invalid
from tandem.web.context import Web, build
from tandem.web.guard import Guard
from tandem.web.settings import WebSettings

STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "tandem_session"


def session_secret(key: bytes) -> str:
    """Derived from the cluster key, so sessions survive a restart of the web."""
    return hmac.new(key, b"tandem web session", hashlib.sha256).hexdigest()


def create_app(settings: WebSettings, background: bool = True) -> FastAPI:
    web = build(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        if background:
            tasks = [
                asyncio.create_task(web.poller.run(), name="status poller"),
                asyncio.create_task(web.sync.run(), name="configuration sync"),
            ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await web.jobs.close()
            await web.peer.close()

    app = FastAPI(
        title="tandem Cluster Management",
        version=__version__,
        description="Everything the web pages do (MG-5). Log in with POST /api/login after "
        "GET /api/session; send the session's CSRF token as X-CSRF-Token with every change.",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.web = web
    _routes(app, web)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_middleware(Guard, passwords=web.passwords)
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(read_cluster_key(settings.secrets.cluster_key)),
        session_cookie=SESSION_COOKIE,
        max_age=auth.SESSION_SECONDS,
        same_site="strict",
        https_only=True,
    )
    return app


def routers() -> list[APIRouter]:
    """Every router of the app; tests/web/test_routes.py walks them all."""
    from tandem.web import pages, peer_api
    from tandem.web.api import power

    return [
        session.router,
        cluster.router,
        maintenance.router,
        support.router,
        bundle.router,
        config.router,
        containers.router,
        notices.router,
        passwords.router,
        status.router,
        nodes.router,
        updates.router,
        power.router,
        peer_api.router,
        power.peer_router,
        pages.router,
    ]


def _routes(app: FastAPI, web: Web) -> None:
    del web
    for router in routers():
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
