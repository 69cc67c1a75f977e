"""MG-2 Updates of container 101, in the lab on node1 with a real LXC container: the web's
own API (in-process inside node1, where /vz is mounted) goes into the container through
lxc-attach.

The container is made from busybox, which has no apt: the card says so ("not available",
never an error). Then harmless stand-ins for `apt` and `apt-get` are put into it, so that
the whole way runs for real without a Debian mirror: the list parsed, the upgrade as a job
with apt's environment and none of the node's, and the `updates` event when it ends (the
mail from it is tests/web/test_updates.py's). A stopped container is "not available" too.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tandem.eventlog.log import read
from tandem.lab.lab import Lab
from tests.containers.conftest import Node
from tests.web.conftest import PASSWORD, free_port, install

pytestmark = pytest.mark.lab

# Run by node1's Python inside node1: the web app with /vz as the product has it.
WEB = r"""
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

FAKE_APT = """#!/bin/sh
echo "Listing..."
echo "bash/stable-security 5.2.15-2+b7 amd64 [upgradable from: 5.2.15-2+b2]"
echo "libc6/stable 2.36-9+deb12u9 amd64 [upgradable from: 2.36-9+deb12u4]"
"""
FAKE_APT_GET = """#!/bin/sh
echo "args: $*"
env | sort | sed 's/^/env: /'
case "$*" in
  *upgrade*) echo "Reading package lists..."
             echo "2 upgraded, 0 newly installed, 0 to remove and 0 not upgraded." ;;
  *update*) echo "Hit:1 http://deb.debian.org/debian bookworm InRelease" ;;
esac
"""


@pytest.fixture(scope="module")
def web_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """node1's /etc/tandem as `tandem init` writes it, and a state folder, both scratch."""
    root = tmp_path_factory.mktemp("ve-updates")
    return install(root, free_port())["node1"], root / "state"


@pytest.fixture(scope="module")
def c101(node1: Node, ve_lab: Lab) -> Iterator[Node]:
    node1.ok("create", "101", "--ostemplate", "busybox", "--config", "vps.256MB")
    node1.ok("start", "101")
    yield node1


def web(node: Node, dirs: tuple[Path, Path], *calls: str) -> list[dict[str, Any]]:
    etc, state = dirs
    result = node.run(sys.executable, "-c", WEB, str(etc), str(state), PASSWORD, *calls,
                      timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return list(json.loads(result.stdout.strip().splitlines()[-1]))


def put_file(node: Node, path: str, text: str) -> None:
    result = node.ve("exec", "101", "--", "/bin/sh", "-c", f"cat > {path} && chmod 755 {path}",
                     input=text)  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_busybox_has_no_apt_and_the_card_says_so(c101: Node, web_dirs: tuple[Path, Path]) -> None:
    listed, started = web(c101, web_dirs, "GET /api/updates/container",
                          "POST /api/updates/container/apply")  # fmt: skip
    assert listed["status"] == 200
    assert listed["data"]["available"] is False and listed["data"]["node"] == "node1"
    assert listed["data"]["reason"].startswith("container 101 has no apt")
    assert started["status"] == 409
    assert started["data"]["message"].startswith("Nothing was started: container 101 has no apt")


def test_updates_are_listed_and_installed_inside_the_container(
    c101: Node, web_dirs: tuple[Path, Path]
) -> None:
    put_file(c101, "/bin/apt", FAKE_APT)
    put_file(c101, "/bin/apt-get", FAKE_APT_GET)
    try:
        listed, refreshed, applied = web(
            c101, web_dirs, "GET /api/updates/container", "POST /api/updates/container/refresh",
            "POST /api/updates/container/apply",
        )  # fmt: skip
    finally:
        c101.ve("exec", "101", "--", "rm", "-f", "/bin/apt", "/bin/apt-get")
    data = listed["data"]
    assert data["available"] is True and data["node"] == "node1", data
    assert [(p["name"], p["security"]) for p in data["packages"]] == [("bash", True),
                                                                      ("libc6", False)]  # fmt: skip
    assert data["security"] == 1
    assert refreshed["data"]["state"] == "done"
    assert "args: -q update" in refreshed["data"]["lines"]
    job = applied["data"]
    assert (job["state"], job["exit_code"], job["node"]) == ("done", 0, "node1")
    assert job["title"] == "apt-get upgrade in container 101"
    assert job["lines"][0].startswith("$ lxc-attach -n 101 -P /vz/lxc --clear-env")
    env = {line[5:] for line in job["lines"] if line.startswith("env: ")}
    assert {"DEBIAN_FRONTEND=noninteractive", "LC_ALL=C", "HOME=/root"} <= env
    assert not [v for v in env if v.startswith("TANDEM")], "the node's variables stay outside"
    assert "args: -q -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold " \
           "upgrade" in job["lines"]  # fmt: skip
    events = [e for e in read(web_dirs[1] / "events.jsonl") if e.kind == "updates"]
    assert [e.sentence for e in events] == [
        "updates installed on container 101 on node1: 2 packages, exit code 0"
    ]


def test_a_stopped_container_is_not_available(c101: Node, web_dirs: tuple[Path, Path]) -> None:
    c101.ok("stop", "101")
    try:
        [listed] = web(c101, web_dirs, "GET /api/updates/container")
    finally:
        c101.ok("start", "101")
    assert listed["data"] == {
        "available": False, "elsewhere": False, "node": "node1",
        "reason": "container 101 is not running; start it on the Containers page",
    }  # fmt: skip
