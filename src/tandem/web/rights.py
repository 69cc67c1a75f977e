"""What each login may reach (MG-2 Passwords, MG-3): admin everything, the container
panel user only the container pages and their API.

An allow-list rather than a list of what is forbidden, so that a route added later is
closed to the panel user until someone decides otherwise here; guard.py enforces it for
every request and tests/web/test_routes.py walks the route table to prove it.

The panel user is the seed's vzagent0 (the login of the Virtuozzo Control Center): it
manages the containers that exist. It may list them, open one, change its settings,
start, stop and restart it, back it up, restore a listed backup, and follow those jobs.
It may not create a container, install an OS template or back up the template cache:
those take addresses, disk and downloads of the whole node and belong to the
administrator, like everything else (network, passwords, updates, maintenance, status).
Restoring stays allowed although it makes a container again: it only brings back what a
backup of this cluster holds, and it is the panel's way back after a mistake.
Job ids are random (jobs.py), so following a job means following one that the user has
started or been told of.
"""

from __future__ import annotations

import re

from tandem.web.auth import ADMIN, PANEL

# (method, path) reachable without a session. POST /api/login still needs the CSRF token
# of its (anonymous) session, so that another site cannot log a browser in.
PUBLIC = frozenset(
    {
        ("GET", "/login"),
        ("HEAD", "/login"),
        ("GET", "/api/session"),
        ("GET", "/api/openapi.json"),
        ("POST", "/api/login"),
    }
)
PUBLIC_PREFIXES = ("/static/",)

_PANEL = (
    ("GET", r"/containers"),
    ("GET", r"/containers/\d+"),
    ("GET", r"/api/containers"),
    ("GET", r"/api/containers/\d+"),
    ("PUT", r"/api/containers/\d+"),
    ("POST", r"/api/containers/\d+/(start|stop|restart|backup)"),
    ("POST", r"/api/backups/restore"),
    ("GET", r"/api/jobs/node[12]/[0-9a-f]+"),
    ("GET", r"/api/jobs/node[12]/[0-9a-f]+/stream"),
    ("POST", r"/api/logout"),
    ("PUT", r"/api/session/language"),
)
PANEL_ALLOWED = tuple((method, re.compile(pattern)) for method, pattern in _PANEL)
PANEL_HOME = "/containers"


def may(user: str | None, method: str, path: str) -> bool:
    """Whether `user` (None: not logged in) may send `method` to `path`."""
    method = "GET" if method == "HEAD" else method
    if (method, path) in PUBLIC:
        return True
    if user == ADMIN:
        return True
    if user == PANEL:
        return any(m == method and p.fullmatch(path) for m, p in PANEL_ALLOWED)
    return False
