"""The web's own API run inside a lab node (in-process, by the node's Python), where the
node's /vz is mounted, for the tests of container 101's updates."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.containers.conftest import Node
from tests.web.conftest import PASSWORD, free_port, install

# Run by node1's Python inside node1: the web app with /vz as the product has it.
SCRIPT = r"""
import json, sys
from pathlib import Path
from starlette.testclient import TestClient
from tandem.web.app import create_app
from tandem.web.settings import WebSettings

etc, state, password, calls = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4:]
settings = WebSettings(etc_dir=etc, state_dir=state / "web", run_dir=state / "run",
                       node="node1", peer_timeout=0.5)
out = []
with TestClient(create_app(settings, background=False), base_url="https://testserver") as c:
    c.headers["X-CSRF-Token"] = c.get("/api/session").json()["csrf"]
    assert c.post("/api/login", json={"user": "admin", "password": password}).status_code == 200
    c.headers["X-CSRF-Token"] = c.get("/api/session").json()["csrf"]
    assert c.put("/api/session/language", json={"language": "en"}).status_code == 200
    for call in calls:
        method, url = call.split(" ", 1)
        reply = c.request(method, url)
        data = reply.json()
        if method == "POST" and reply.status_code == 200:
            lines, since = [], 0
            for _ in range(120):  # each call waits for new lines, up to 5 s
                view = c.get(f"/api/jobs/{data['node']}/{data['id']}",
                             params={"since": since, "wait": 5}).json()
                lines += view["lines"]
                since = view["next"]
                if view["state"] != "running":
                    break
            data = {**view, "lines": lines, "node": data["node"]}
        out.append({"status": reply.status_code, "data": data})
print(json.dumps(out))
"""


def web_dirs(root: Path) -> tuple[Path, Path]:
    """node1's /etc/tandem as `tandem init` writes it, and a state folder, both scratch."""
    return install(root, free_port())["node1"], root / "state"


def web(node: Node, dirs: tuple[Path, Path], *calls: str) -> list[dict[str, Any]]:
    etc, state = dirs
    result = node.run(sys.executable, "-c", SCRIPT, str(etc), str(state), PASSWORD, *calls,
                      timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return list(json.loads(result.stdout.strip().splitlines()[-1]))


def put_file(node: Node, path: str, text: str) -> None:
    result = node.ve("exec", "101", "--", "/bin/sh", "-c", f"cat > {path} && chmod 755 {path}",
                     input=text)  # fmt: skip
    assert result.returncode == 0, result.stderr
