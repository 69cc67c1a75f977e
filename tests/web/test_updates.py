"""MG-2 Updates: the mail when updates are done (an `updates` event that the notifier mails,
NT-1), and container 101's card when the container is not here.

The web runs in-process with harmless commands in place of apt (settings.apt_commands, as
the API fuzz does), below a scratch root laid out like a node's (etc/tandem, var/lib/tandem),
so that the real notifier reads the event the web wrote and a real SMTP server (aiosmtpd)
receives the mail.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tandem.config import load_config
from tandem.containers.layout import Layout, is_mountpoint
from tandem.containers.manager import Containers
from tandem.eventlog.log import Event, read
from tandem.notify.notifier import Notifier
from tandem.rootdir import Root
from tandem.web import update_events, ve_updates
from tandem.web.app import create_app
from tandem.web.jobs import Job
from tandem.web.settings import WebSettings
from tests.notify.conftest import SmtpServer
from tests.web.conftest import Node, free_port, install, log_in_in_english

APPLY = ["sh", "-c", "echo 'Reading package lists...'; echo 'The following packages will be "
         "upgraded:'; echo '  bash libc6'; echo '2 upgraded, 1 newly installed, 0 to remove and "
         "0 not upgraded.'"]  # fmt: skip
LOCKED = ["sh", "-c", "echo 'E: Could not get lock /var/lib/dpkg/lock-frontend'; exit 100"]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A node's directories: etc/tandem from `tandem init`, var/lib/tandem for state."""
    root = tmp_path_factory.mktemp("updates")
    etc = install(root, free_port())["node1"]
    shutil.copytree(etc, root / "etc" / "tandem")
    return root


@pytest.fixture(scope="module")
def client(base: Path) -> Iterator[TestClient]:
    settings = WebSettings(
        etc_dir=base / "etc" / "tandem", state_dir=base / "var" / "lib" / "tandem" / "web",
        run_dir=base / "run", node="node1", peer_timeout=0.2, vz_dir=base / "vz",
        apt_commands={"refresh": ["echo", "Hit:1 http://deb.example.org bookworm"],
                      "apply": APPLY},
    )  # fmt: skip
    with TestClient(create_app(settings, background=False), base_url="https://testserver") as c:
        log_in_in_english(c)
        yield c


def events(base: Path) -> list[Event]:
    return read(Root(base).state / "events.jsonl")


def run_job(client: TestClient, url: str) -> dict[str, Any]:
    reply = client.post(url)
    assert reply.status_code == 200, reply.text
    job = reply.json()
    lines: list[str] = []
    since = 0
    for _ in range(50):  # each call waits for new lines, up to 5 s
        url = f"/api/jobs/{job['node']}/{job['id']}"
        view = client.get(url, params={"since": since, "wait": 5}).json()
        lines += view["lines"]
        since = view["next"]
        if view["state"] != "running":
            return {**view, "lines": lines}
    raise AssertionError(f"job {job} did not end")


def test_installed_updates_become_an_event(client: TestClient, base: Path) -> None:
    before = len(events(base))
    view = run_job(client, "/api/updates/node1/apply")
    assert view["state"] == "done" and "2 upgraded, 1 newly installed" in view["lines"][-1]
    [event] = events(base)[before:]
    assert (event.node, event.kind, event.severity) == ("node1", "updates", "info")
    assert event.sentence == "updates installed on node1: 3 packages, exit code 0"
    assert event.details["packages"] == 3 and event.details["exit_code"] == 0
    assert event.details["job"] == view["id"]


def test_failed_updates_become_a_warning_with_apts_words(client: TestClient, base: Path) -> None:
    commands = client.app.state.web.settings.apt_commands  # type: ignore[attr-defined]
    before = len(events(base))
    commands["apply"] = LOCKED
    try:
        view = run_job(client, "/api/updates/node1/apply")
    finally:
        commands["apply"] = APPLY
    assert (view["state"], view["exit_code"]) == ("failed", 100)
    [event] = events(base)[before:]
    assert event.severity == "warning"
    assert event.sentence == (
        "installing updates on node1 failed: no package count in apt's output, exit code 100"
    )
    assert "Could not get lock" in event.details["output"]


def test_checking_for_updates_records_nothing(client: TestClient, base: Path) -> None:
    before = len(events(base))
    assert run_job(client, "/api/updates/node1/refresh")["state"] == "done"
    assert len(events(base)) == before


def test_the_operator_is_mailed_when_updates_are_done(client: TestClient, base: Path) -> None:
    """The whole way: the web's job, the event log, the notifier, a real SMTP server."""
    smtp = SmtpServer()
    smtp.start()
    try:
        values = client.get("/api/notification").json()
        form = {**values, "addresses": ["ops@example.com"], "relay_host": "127.0.0.1",
                "relay_port": smtp.port, "events": ["updates"]}  # fmt: skip
        assert client.put("/api/notification", json=form).status_code == 200
        cfg = load_config(base / "etc" / "tandem" / "cluster.toml")
        notifier = Notifier(Root(base), hostname=cfg.node1.hostname, peer_alive=lambda: True)
        notifier.collect()  # what happened before is not this test's
        asyncio.run(notifier.flush())
        sent_before = len(smtp.inbox.mails)
        run_job(client, "/api/updates/node1/apply")
        assert notifier.collect() == 1
        assert asyncio.run(notifier.flush()) == 1
        mail = smtp.inbox.wait(sent_before + 1)[-1]
        assert mail.message["Subject"] == (
            f"[tandem {cfg.cluster.name}] updates installed on node1: 3 packages, exit code 0"
        )
        body = mail.message.get_content()
        assert "packages: 3" in body and "exit_code: 0" in body
    finally:
        smtp.stop()


def test_container_101_is_not_available_where_vz_is_not_mounted(
    client: TestClient, base: Path
) -> None:
    reply = client.get("/api/updates/container")
    assert reply.status_code == 200
    data = reply.json()
    assert data["available"] is False and data["node"] is None
    assert f"container 101 is not on node1 ({base / 'vz'} is not mounted here)" in data["reason"]
    assert "node2 does not answer" in data["reason"]
    assert "open the Updates page of the node where the service group runs" in data["reason"]
    before = len(events(base))
    refused = client.post("/api/updates/container/apply")
    assert refused.status_code == 409
    assert "container 101 is not on this node" in refused.json()["message"]
    assert "node2 is not reachable: nothing was started" in refused.json()["message"]
    jobs = client.app.state.web.jobs.jobs.values()  # type: ignore[attr-defined]
    assert not [j for j in jobs if "container" in j.title]
    assert len(events(base)) == before


def test_the_updates_page_has_the_container_card(client: TestClient) -> None:
    page = client.get("/updates").text
    assert 'data-updates-node="container"' in page and "Container 101" in page
    spec = client.get("/api/openapi.json").json()
    assert {"/api/updates/container", "/api/updates/container/{kind}"} <= set(spec["paths"])


def test_in_german(client: TestClient) -> None:
    assert client.put("/api/session/language", json={"language": "de"}).status_code == 200
    try:
        page = client.get("/updates").text
        refused = client.post("/api/updates/container/refresh").json()["message"]
    finally:
        assert client.put("/api/session/language", json={"language": "en"}).status_code == 200
    assert "Updates im Container 101" in page
    assert refused.startswith("container 101 ist nicht auf diesem Knoten (")
    assert "node2 ist nicht erreichbar: Es wurde nichts gestartet" in refused


# --- container 101 on a mounted /vz, without a lab: what is checked before lxc-attach ---


@pytest.fixture
def vz(tmp_path: Path) -> Iterator[Path]:
    """A folder mounted on itself (root only): a /vz for Layout.require_mounted."""
    if subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() != "0":
        pytest.skip("mounting needs root")
    folder = tmp_path / "vz"
    folder.mkdir()
    subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_missing_or_stopped_container_is_not_available_with_the_reason(vz: Path) -> None:
    containers = Containers(Layout(vz))
    assert is_mountpoint(vz)
    missing = ve_updates.upgradable(containers)
    assert missing == {"available": False, "elsewhere": False,
                       "reason": "container 101 does not exist; install it on the Containers "
                                 "page"}  # fmt: skip
    (vz / "lxc" / "101").mkdir(parents=True)  # defined, never started: LXC knows it not
    stopped = ve_updates.upgradable(containers)
    assert stopped["reason"] == "container 101 is not running; start it on the Containers page"
    with pytest.raises(ve_updates.Unavailable, match="not running") as caught:
        ve_updates.command(containers, "apply")
    assert caught.value.elsewhere is False


# --- the event's words from apt-get's output ---

APT_GET_UPGRADE = """\
Reading package lists...
Building dependency tree...
Calculating upgrade...
The following NEW packages will be installed:
  linux-image-6.1.0-28-amd64
The following packages will be upgraded:
  libc-bin libc6 openssl
3 upgraded, 1 newly installed, 0 to remove and 2 not upgraded.
Need to get 9,871 kB of archives.
"""


def job(state: str, code: int | None, lines: list[str]) -> Job:
    ended = Job("apt-get upgrade", ["apt-get", "upgrade"], "apt", state=state, exit_code=code)
    ended.lines.extend(lines)
    return ended


def test_the_package_count_is_apts_own() -> None:
    assert update_events.packages_installed(APT_GET_UPGRADE.splitlines()) == 4
    assert update_events.packages_installed(["0 upgraded, 0 newly installed, 0 to remove and "
                                             "0 not upgraded."]) == 0  # fmt: skip
    assert update_events.packages_installed(["E: Unable to locate package"]) is None


def test_the_sentence_says_where_how_many_and_how_it_ended() -> None:
    where = "container 101 on node2"
    done = update_events.describe(where, job("done", 0, APT_GET_UPGRADE.splitlines()))
    assert done[:2] == ("updates installed on container 101 on node2: 4 packages, exit code 0",
                        "info")  # fmt: skip
    one = update_events.describe(
        "node1", job("done", 0, ["1 upgraded, 0 newly installed, 0 to remove and 0 not upgraded."])
    )
    assert one[0] == "updates installed on node1: 1 package, exit code 0"
    unstarted = update_events.describe("node1", job("failed", None, ["cannot start apt-get"]))
    assert unstarted[0] == ("installing updates on node1 failed: no package count in apt's "
                            "output, exit code none (not started)")  # fmt: skip
    assert unstarted[1] == "warning" and unstarted[2]["output"] == "cannot start apt-get"


# --- container 101 asked of the other node, for real (two web servers) ---


def test_the_other_node_is_asked_and_says_where_the_container_is_not(
    cluster: dict[str, Node],
) -> None:
    node2 = cluster["node2"]
    data = node2.client.get("/api/updates/container").json()
    assert data["available"] is False
    assert data["reason"] == ("/vz is mounted on neither node2 nor node1: container 101 runs "
                              "nowhere now (the service group is not running)")  # fmt: skip
    refused = node2.send("POST", "/api/updates/container/apply")
    assert refused.status_code == 409
    vz1, vz2 = cluster["node1"].vz, node2.vz  # each web's own scratch /vz, never mounted
    assert refused.json()["message"] == (
        f"Nothing was started: node2: {vz2} is not mounted here; node1: {vz1} is not mounted here."
    )
