"""MG-2 Updates of container 101 with Debian's own apt, in the lab: a container from the
debian-12 template (debootstrap from the host's mirror, skipped with the reason when that
mirror is not reachable), whose APT reaches the mirror through the administrator's PC as
an operator would set it up (a proxy in /etc/apt/apt.conf.d). The web's API lists,
refreshes and upgrades inside it, and the upgrade's end is an `updates` event with apt's
own count."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tandem.eventlog.log import read
from tandem.lab.lab import Lab
from tests.containers import proxy
from tests.containers.conftest import Node
from tests.containers.test_templates import mirror_reachable
from tests.containers.webapp import put_file, web, web_dirs

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def debian101(node1: Node, ve_lab: Lab) -> Iterator[Node]:
    reason = mirror_reachable()
    if reason is not None:
        pytest.skip(reason)
    with proxy.serve(str(ve_lab.spec.admin_ip)) as url:
        built = node1.run("tandem", "template", "build", "debian-12", timeout=1800,
                          env={"http_proxy": url})  # fmt: skip
        assert built.returncode == 0, built.stderr[-2000:]
        address = str(ve_lab.spec.subnet.network_address + 71)
        node1.ok("create", "101", "--ostemplate", "debian-12", "--config", "vps.512MB",
                 "--hostname", "deb101.example.com", "--ipadd", address)  # fmt: skip
        node1.ok("start", "101")
        for _ in range(30):
            state = node1.ve("exec", "101", "--", "systemctl", "is-system-running").stdout
            if state.strip() in ("running", "degraded"):
                break
            time.sleep(1)
        put_file(node1, "/etc/apt/apt.conf.d/01proxy", f'Acquire::http::Proxy "{url}";\n')
        security = security_archive()
        if security:  # the template has the main archive only; a real 101 has this too
            put_file(node1, "/etc/apt/sources.list.d/security.list",
                     f"deb {security} bookworm-security main\n")  # fmt: skip
        yield node1


def security_archive(apt: Path = Path("/etc/apt")) -> str | None:
    """The security archive this host's APT uses, if any (deb822 or one-line sources)."""
    files = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*"))]
    for path in files:
        if path.suffix in ("", ".list", ".sources") and path.is_file():
            found = re.search(r"(?:URIs:|deb(?:\s+\[[^\]]*\])?)\s+(\S*debian-security\S*)",
                              path.read_text())  # fmt: skip
            if found:
                return found.group(1).rstrip("/")
    return None


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return web_dirs(tmp_path_factory.mktemp("ve-updates-debian"))


def test_real_apt_lists_refreshes_and_upgrades_inside_the_container(
    debian101: Node, dirs: tuple[Path, Path]
) -> None:
    listed, refreshed, relisted, applied = web(
        debian101, dirs, "GET /api/updates/container", "POST /api/updates/container/refresh",
        "GET /api/updates/container", "POST /api/updates/container/apply",
    )  # fmt: skip
    assert listed["data"]["available"] is True and listed["data"]["node"] == "node1", listed
    refresh = refreshed["data"]
    assert (refresh["state"], refresh["exit_code"]) == ("done", 0), refresh["lines"][-20:]
    assert any(line.startswith(("Hit:", "Get:")) for line in refresh["lines"])
    assert relisted["data"]["available"] is True and relisted["data"]["checked"] is not None
    upgrade = applied["data"]
    assert (upgrade["state"], upgrade["exit_code"]) == ("done", 0), upgrade["lines"][-20:]
    summary = next(line for line in upgrade["lines"] if " upgraded, " in line)
    found = re.match(r"(\d+) upgraded, (\d+) newly installed, \d+ to remove and (\d+) not "
                     r"upgraded", summary)  # fmt: skip
    assert found is not None, summary
    upgraded, new, kept = (int(n) for n in found.groups())
    assert upgraded + kept == len(relisted["data"]["packages"]), (summary, relisted)
    count = upgraded + new
    print(f"\ncontainer 101 (debian-12): {len(relisted['data']['packages'])} upgradable; {summary}")
    events = [e for e in read(dirs[1] / "events.jsonl") if e.kind == "updates"]
    plural = "" if count == 1 else "s"
    assert [e.sentence for e in events] == [
        f"updates installed on container 101 on node1: {count} package{plural}, exit code 0"
    ]
    after = web(debian101, dirs, "GET /api/updates/container")[0]["data"]
    assert after["available"] is True and len(after["packages"]) == kept, after
