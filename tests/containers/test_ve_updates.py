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

from collections.abc import Iterator
from pathlib import Path

import pytest

from tandem.eventlog.log import read
from tandem.lab.lab import Lab
from tests.containers.conftest import Node
from tests.containers.webapp import put_file, web, web_dirs

pytestmark = pytest.mark.lab

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
def dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return web_dirs(tmp_path_factory.mktemp("ve-updates"))


@pytest.fixture(scope="module")
def c101(node1: Node, ve_lab: Lab) -> Iterator[Node]:
    node1.ok("create", "101", "--ostemplate", "busybox", "--config", "vps.256MB")
    node1.ok("start", "101")
    yield node1


def test_busybox_has_no_apt_and_the_card_says_so(c101: Node, dirs: tuple[Path, Path]) -> None:
    listed, started = web(c101, dirs, "GET /api/updates/container",
                          "POST /api/updates/container/apply")  # fmt: skip
    assert listed["status"] == 200
    assert listed["data"]["available"] is False and listed["data"]["node"] == "node1"
    assert listed["data"]["reason"].startswith("container 101 has no apt")
    assert started["status"] == 409
    assert started["data"]["message"].startswith("Nothing was started: container 101 has no apt")


def test_updates_are_listed_and_installed_inside_the_container(
    c101: Node, dirs: tuple[Path, Path]
) -> None:
    put_file(c101, "/bin/apt", FAKE_APT)
    put_file(c101, "/bin/apt-get", FAKE_APT_GET)
    try:
        listed, refreshed, applied = web(
            c101, dirs, "GET /api/updates/container", "POST /api/updates/container/refresh",
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
    events = [e for e in read(dirs[1] / "events.jsonl") if e.kind == "updates"]
    assert [e.sentence for e in events] == [
        "updates installed on container 101 on node1: 2 packages, exit code 0"
    ]


def test_a_stopped_container_is_not_available(c101: Node, dirs: tuple[Path, Path]) -> None:
    c101.ok("stop", "101")
    try:
        [listed] = web(c101, dirs, "GET /api/updates/container")
    finally:
        c101.ok("start", "101")
    assert listed["data"] == {
        "available": False, "elsewhere": False, "node": "node1",
        "reason": "container 101 is not running; start it on the Containers page",
    }  # fmt: skip
