"""Rendering pages: the context every page shares (menu, language, node, CSRF token,
pending changes, who is logged in and what they may use) and the Status section that the
live stream sends as HTML.

The menu and the buttons a page offers follow rights.py, the same allow-list the guard
enforces, so the container panel user is shown only what it may use.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from tandem import __version__
from tandem.web import auth, csrf, i18n, rights
from tandem.web.context import language, translator, web_of
from tandem.web.i18n import N_

# The seed's menu (5.1.1), in its order ("Virtuozzo" is Containers). Maintenance has
# what has a backend so far (switchover, maintenance mode, remote support, the
# configuration bundle, the template cache backup); shutdown/reboot joins it with its own.
MENU = (
    ("home", "/", N_("Home")),
    ("network", "/network", N_("Network")),
    ("containers", "/containers", N_("Containers")),
    ("notification", "/notification", N_("Notification")),
    ("passwords", "/passwords", N_("Passwords")),
    ("updates", "/updates", N_("Updates")),
    ("maintenance", "/maintenance", N_("Maintenance")),
    ("status", "/status", N_("Status")),
)


def base_context(request: Request, page: str) -> dict[str, Any]:
    web = web_of(request)
    cfg = web.cfg()
    _ = translator(request)
    user = auth.current_user(request.session, web.passwords)

    def can(method: str, path: str) -> bool:
        return rights.may(user, method, path)

    return {
        "request": request,
        "_": _.gettext,
        "page": page,
        "menu": [item for item in MENU if can("GET", item[1])],
        "user": user,
        "can": can,
        "lang": language(request),
        "languages": [(code, i18n.LANGUAGE_NAMES[code]) for code in cfg.web.languages],
        "csrf": csrf.token_of(request.session),
        "me": web.me,
        "peer": web.peer_id,
        "cluster": cfg.cluster.name,
        "version": __version__,
        "sync": web.sync.summary(),
        "when": _when,
    }


def page(request: Request, template: str, page_name: str, **extra: Any) -> HTMLResponse:
    web = web_of(request)
    context = {**base_context(request, page_name), **extra}
    return web.templates.TemplateResponse(request, template, context)


def status_fragment(request: Request) -> str:
    web = web_of(request)
    context = {**base_context(request, "status"), "s": web.poller.snapshot}
    template = web.templates.get_template("_status.html")
    return template.render(context)


def _when(at: float | None) -> str:
    if not at:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


# Words the Status page shows as badges, named here so the catalog has them.
STATE_WORDS = (
    N_("up"), N_("down"), N_("alive"), N_("dead"), N_("unknown"), N_("disabled"),
    N_("running"), N_("stopped"), N_("mounted"), N_("frozen"), N_("repair"),
    N_("yes"), N_("no"), N_("starting"), N_("stopping"),
)  # fmt: skip
