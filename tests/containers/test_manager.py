"""Issue 5 acceptance, in the lab on node1: create 101 from busybox with vps.256MB, give it
an address on the external network, start it; the administrator host pings it; `ve exec
101 -- hostname` answers; `ve list` shows it running with its process count; and the
memory, process and disk limits hold (VE-1, VE-2, VE-3)."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tandem.lab.lab import Lab
from tests.containers.conftest import Node, admin_ping

pytestmark = pytest.mark.lab

TINY = """\
# a copy of vps.256MB with a small disk, as an operator would make one
DESCRIPTION="tiny"
MEMORY="64M"
NUMPROC="64"
CPUUNITS="500"
CPULIMIT="0"
DISKSPACE="64M"
DISKINODES="2048"
"""


def address(lab: Lab, host: int) -> str:
    return str(lab.spec.subnet.network_address + host)


def status(node: Node, veid: int) -> dict[str, Any]:
    return dict(json.loads(node.ok("status", str(veid), "--json")))


def limit_events(node: Node, veid: int) -> list[str]:
    return [e["message"] for e in status(node, veid)["limit_events"]]


@pytest.fixture(scope="module")
def c101(node1: Node, ve_lab: Lab) -> Iterator[dict[str, str]]:
    """The seed's Abbildung 4, with tandem: create, set --save, start."""
    out = {
        "create": node1.ok(
            "create", "101", "--ostemplate", "busybox", "--config", "vps.256MB",
            "--hostname", "vps101.example.com",
        ),
        "set": node1.ok(
            "set", "101", "--onboot", "yes", "--ipadd", address(ve_lab, 50),
            "--nameserver", address(ve_lab, 1), "--searchdomain", "example.com", "--save",
        ),
        "start": node1.ok("start", "101"),
    }  # fmt: skip
    yield out


def test_create_set_start_as_in_the_seed(c101: dict[str, str], node1: Node, ve_lab: Lab) -> None:
    assert "Container 101 created: vps101.example.com, 256 MiB memory" in c101["create"]
    assert "Saved parameters for container 101" in c101["set"]
    assert "Container 101 is running" in c101["start"]
    conf = node1.run("cat", "/vz/lxc/101/ve.conf", check=True).stdout
    assert f'IP_ADDRESS="{address(ve_lab, 50)}"' in conf and 'ONBOOT="yes"' in conf
    resolv = node1.sh(101, "cat /etc/resolv.conf").stdout
    assert f"nameserver {address(ve_lab, 1)}" in resolv and "search example.com" in resolv


def test_the_administrator_pings_it(c101: dict[str, str], ve_lab: Lab) -> None:
    assert admin_ping(address(ve_lab, 50))
    router = Node(ve_lab, "router")
    assert router.run("ping", "-c1", "-W2", address(ve_lab, 50)).returncode == 0


def test_its_web_server_answers_the_administrator(c101: dict[str, str], ve_lab: Lab) -> None:
    import urllib.request

    with urllib.request.urlopen(f"http://{address(ve_lab, 50)}/", timeout=5) as reply:
        assert "vps101.example.com" in reply.read().decode()


def test_exec_hostname(c101: dict[str, str], node1: Node) -> None:
    result = node1.ve("exec", "101", "--", "hostname")
    assert result.returncode == 0 and result.stdout.strip() == "vps101.example.com"
    assert node1.ve("exec", "101", "--", "sh", "-c", "exit 7").returncode == 7


def test_list_shows_it_running_with_its_process_count(c101: dict[str, str], node1: Node) -> None:
    text = node1.ok("list")
    header, *rows = text.splitlines()
    assert header.split() == ["VEID", "NPROC", "STATUS", "IP_ADDR", "HOSTNAME"]
    row = next(r.split() for r in rows if r.split()[0] == "101")
    assert row[2] == "running" and row[4] == "vps101.example.com"
    nproc = int(row[1])
    processes = node1.sh(101, "ps -o pid | tail -n +2 | wc -l").stdout
    assert 3 <= nproc <= int(processes) + 2  # init, syslogd, crond, httpd (+ the ps itself)


def test_memory_limit_holds(c101: dict[str, str], node1: Node) -> None:
    assert node1.sh(101, "dd if=/dev/zero of=/dev/null bs=64M count=1").returncode == 0
    hog = node1.sh(101, "dd if=/dev/zero of=/dev/null bs=400M count=1")
    assert hog.returncode != 0, "a 400 MiB allocation must not succeed under a 256 MiB limit"
    assert any("memory limit 256 MiB reached" in m for m in limit_events(node1, 101))
    assert status(node1, 101)["usage"]["memory_limit"] == 256 * 1024**2


def test_process_limit_holds(c101: dict[str, str], node1: Node) -> None:
    fork_bomb = "i=0; while [ $i -lt 400 ]; do sleep 2 & i=$((i+1)); done; echo all forked"
    result = node1.sh(101, fork_bomb)
    assert "all forked" not in result.stdout
    assert "can't fork" in result.stderr
    time.sleep(2.5)  # the sleeps end; the container can fork again
    info = status(node1, 101)
    assert info["usage"]["tasks_limit"] == 256
    assert any("process limit 256 reached" in m for m in limit_events(node1, 101))
    assert node1.sh(101, "echo alive").stdout.strip() == "alive"


def test_disk_limit_holds(c101: dict[str, str], node1: Node) -> None:
    fill = node1.sh(101, "dd if=/dev/zero of=/fill bs=4M", timeout=300)
    assert fill.returncode != 0 and "No space left on device" in fill.stderr
    info = status(node1, 101)
    assert info["disk"]["available"] < 1024**2
    assert info["disk"]["total"] <= 2 * 1024**3
    assert any("disk limit" in m and "the disk is full" in m for m in limit_events(node1, 101))
    text = node1.ok("status", "101")
    assert "limits reached (action log)" in text and "the disk is full" in text
    node1.sh(101, "rm /fill")


def test_inode_limit_of_an_operators_sample(c101: dict[str, str], node1: Node) -> None:
    node1.run("sh", "-c", f"cat > /vz/samples/tiny.conf <<'EOF'\n{TINY}EOF", check=True)
    node1.ok("create", "102", "--ostemplate", "busybox", "--config", "tiny")
    node1.ok("start", "102")
    try:
        made = node1.sh(
            102, "mkdir /d; i=0; while touch /d/f$i 2>/dev/null; do i=$((i+1)); done; echo $i"
        )
        files = int(made.stdout.split()[-1])
        info = status(node1, 102)
        assert info["disk"]["inodes_used"] == info["disk"]["inodes_total"]
        assert 1000 < files < 2100  # the limit, less the system's own files
        assert any("inode limit" in m for m in limit_events(node1, 102))
    finally:
        node1.ve("stop", "--fast", "102")
        node1.ve("destroy", "102")


def test_cpu_limit_holds(c101: dict[str, str], node1: Node) -> None:
    """vps.256MB allows half a CPU: a busy loop for 3 s gets at most about 1.5 s of CPU."""
    before = status(node1, 101)["usage"]["cpu_seconds"]
    started = time.monotonic()
    node1.sh(101, "timeout 3 sh -c 'while :; do :; done'")
    wall = time.monotonic() - started
    used = status(node1, 101)["usage"]["cpu_seconds"] - before
    assert used <= 0.5 * wall + 0.3, f"{used:.2f} s of CPU in {wall:.2f} s"
    assert any("CPU limit 50% reached" in m for m in limit_events(node1, 101))


def test_list_hides_stopped_unless_all(c101: dict[str, str], node1: Node) -> None:
    node1.ok("create", "103", "--ostemplate", "busybox", "--config", "vps.256MB")
    try:
        assert "103" not in [line.split()[0] for line in node1.ok("list").splitlines()]
        row = next(r for r in node1.ok("list", "-a").splitlines() if r.split()[0] == "103")
        assert re.match(r"\s*103\s+-\s+stopped\s+-\s+ve103", row)
    finally:
        node1.ve("destroy", "103")


def test_stop_start_restart(c101: dict[str, str], node1: Node, ve_lab: Lab) -> None:
    assert "was stopped" in node1.ok("stop", "101")
    assert not admin_ping(address(ve_lab, 50), within=2)
    assert node1.run("findmnt", "/vz/lxc/101/rootfs").returncode != 0  # disk unmounted
    assert node1.run("ip", "neigh", "show", "proxy").stdout.strip() == ""
    node1.ok("start", "101")
    assert admin_ping(address(ve_lab, 50))
    assert "was restarted" in node1.ok("restart", "101")
    assert admin_ping(address(ve_lab, 50))
    log = node1.ok("log", "101")
    assert " create " in log and " start " in log and " stop " in log and " limit " in log


def test_destroy_refuses_a_running_container(c101: dict[str, str], node1: Node) -> None:
    result = node1.ve("destroy", "101")
    assert result.returncode != 0 and "container 101 is running" in result.stderr


def test_enter_gives_a_root_shell(c101: dict[str, str], node1: Node) -> None:
    result = node1.run("tandem", "ve", "enter", "101", input="hostname\nid -u\nexit 3\n")
    assert result.stdout.split() == ["vps101.example.com", "0"]
    assert result.returncode == 3
    assert "entered into container 101" in result.stderr
    assert "exited from container 101" in result.stderr


def test_the_service_groups_way_down_and_up(c101: dict[str, str], node1: Node) -> None:
    """stop_all and start_onboot: what the failover's resource agent will call."""
    node1.ok("create", "104", "--ostemplate", "busybox", "--config", "vps.256MB")  # onboot no
    try:
        python = (
            "from tandem.containers.manager import Containers; import json; c = Containers(); "
            "print(json.dumps([c.stop_all(), c.start_onboot()]))"
        )
        out = node1.run(sys.executable, "-c", python, check=True).stdout
        assert json.loads(out) == [[101], [101]]
        states = {e["veid"]: e["status"] for e in node1.listing()}
        assert states == {101: "running", 104: "stopped"}
    finally:
        node1.ve("destroy", "104")


def test_the_node_is_out_of_reach(c101: dict[str, str], node1: Node) -> None:
    """Root in a container may make device nodes, but not open the node's disks, and
    LXC's seccomp profile keeps it from loading kernel modules."""
    disk = node1.run("sh", "-c", "stat -c '%t %T' $(findmnt -n -o SOURCE /vz)").stdout.split()
    major, minor = (int(x, 16) for x in disk)
    read = node1.sh(101, f"mknod /tmp/disk b {major} {minor} && head -c 512 /tmp/disk | wc -c")
    assert read.stdout.strip() in ("", "0") and "Operation not permitted" in read.stderr
    status = node1.sh(101, "grep Seccomp: /proc/1/status").stdout
    assert status.split() == ["Seccomp:", "2"]
    node1.sh(101, "rm -f /tmp/disk")


def test_a_failed_create_leaves_nothing(c101: dict[str, str], node1: Node) -> None:
    damage = (
        "cp /vz/template/cache/busybox.tar.gz /vz/keep.tar.gz && "
        "head -c 30000 /vz/keep.tar.gz > /vz/template/cache/busybox.tar.gz"
    )
    node1.run("sh", "-c", damage, check=True)
    try:
        result = node1.ve("create", "150", "--ostemplate", "busybox", "--config", "vps.256MB")
        assert result.returncode != 0
        assert "template busybox in the cache cannot be unpacked" in result.stderr
        assert "tandem template build busybox --force" in result.stderr
        assert node1.run("test", "-e", "/vz/lxc/150").returncode != 0
        assert "/vz/lxc/150" not in node1.run("cat", "/proc/self/mountinfo").stdout
        assert "150" not in [str(e["veid"]) for e in node1.listing()]
    finally:
        node1.run("mv", "/vz/keep.tar.gz", "/vz/template/cache/busybox.tar.gz", check=True)
