"""Issue 5 acceptance: OS templates in the template cache (VE-4). The busybox template
always builds (offline); the Debian template is built with debootstrap from the host's
configured mirror when that mirror is reachable, and skipped with the reason otherwise."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tandem.containers import debootstrap
from tandem.lab.lab import Lab
from tests.containers import proxy
from tests.containers.conftest import Node, admin_ping

pytestmark = pytest.mark.lab


def templates(node: Node) -> dict[str, dict[str, object]]:
    out = node.run("tandem", "template", "list", "--json", check=True).stdout
    return {t["name"]: t for t in json.loads(out)}


def test_busybox_builds_offline(node1: Node) -> None:
    out = node1.run("tandem", "template", "build", "busybox", "--force", check=True).stdout
    assert "template busybox:" in out and "/vz/template/cache/busybox.tar.gz" in out
    listed = templates(node1)["busybox"]
    assert int(str(listed["size"])) > 500_000
    tar = node1.run("tar", "-tzf", "/vz/template/cache/busybox.tar.gz", check=True).stdout
    assert "./sbin/init" in tar.split() and "./etc/init.d/httpd" in tar.split()


def test_building_again_uses_the_cache(node1: Node) -> None:
    before = templates(node1)["busybox"]["built"]
    node1.run("tandem", "template", "build", "busybox", check=True)
    assert templates(node1)["busybox"]["built"] == before


def test_remove_and_unknown(node1: Node) -> None:
    node1.run("tandem", "template", "build", "busybox", check=True)
    node1.run("tandem", "template", "remove", "busybox", check=True)
    assert "busybox" not in templates(node1)
    bad = node1.run("tandem", "template", "build", "centos-4")
    assert bad.returncode != 0 and "unknown template 'centos-4'" in bad.stderr
    gone = node1.run("tandem", "template", "remove", "debian-13")
    assert gone.returncode != 0 and "is not in the template cache" in gone.stderr
    # A container needs busybox: it is built again on demand (offline, quick).
    node1.ok("create", "130", "--ostemplate", "busybox", "--config", "vps.256MB")
    node1.ok("destroy", "130")
    assert "busybox" in templates(node1)


def mirror_reachable() -> str | None:
    """The reason the Debian mirror cannot be used from here, or None."""
    try:
        mirror = debootstrap.configured_mirror()
    except Exception as exc:
        return str(exc)
    url = f"{mirror}/dists/{debootstrap.suite_of('debian-12')}/Release"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10):
            return None
    except OSError as exc:
        return f"the Debian mirror {mirror} is not reachable from this host: {exc}"


@pytest.fixture(scope="module")
def debian(node1: Node, ve_lab: Lab) -> Iterator[str]:
    reason = mirror_reachable()
    if reason is not None:
        pytest.skip(reason)
    # The lab's network has no way out; the administrator's PC is its HTTP proxy.
    with proxy.serve(str(ve_lab.spec.admin_ip)) as url:
        started = time.monotonic()
        built = node1.run(
            "tandem", "template", "build", "debian-12", timeout=1800, env={"http_proxy": url}
        )
        assert built.returncode == 0, built.stderr[-2000:]
        print(f"debian-12 template built in {time.monotonic() - started:.0f} s")
    yield built.stdout


def test_debian_template_builds_from_the_mirror(debian: str, node1: Node) -> None:
    assert "template debian-12:" in debian
    listed = templates(node1)["debian-12"]
    assert "debootstrap bookworm from http" in str(listed["source"])
    tar = node1.run("tar", "-tzf", "/vz/template/cache/debian-12.tar.gz", check=True).stdout
    assert "./usr/bin/apt" in tar.split() and "./usr/lib/systemd/systemd" in tar.split()


def test_a_debian_container_boots_with_systemd(debian: str, node1: Node, ve_lab: Lab) -> None:
    address = str(ve_lab.spec.subnet.network_address + 70)
    node1.ok("create", "201", "--ostemplate", "debian-12", "--config", "vps.512MB",
             "--hostname", "deb201.example.com", "--ipadd", address)  # fmt: skip
    node1.ok("start", "201")
    try:
        state = ""
        for _ in range(30):
            state = node1.ve("exec", "201", "--", "systemctl", "is-system-running").stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(1)
        assert state == "running", node1.ve("exec", "201", "--", "systemctl", "--failed").stdout
        assert admin_ping(address)
        services = json.loads(node1.ok("services", "201", "--json"))
        assert {"name": "console-getty", "state": "running"}.items() <= next(
            s for s in services if s["name"] == "console-getty"
        ).items()
        node1.ok("service", "201", "systemd-journald", "restart")
        assert " service restart of systemd-journald" in node1.ok("log", "201")
        started = time.monotonic()
        node1.ok("stop", "201")  # systemd halts on SIGRTMIN+3, well before the 30 s kill
        assert time.monotonic() - started < 25
    finally:
        node1.ve("stop", "--fast", "201")
        node1.ve("destroy", "201")
