"""The Power Panel's functions (VE-7), as commands: services and their restart, resource
usage, repair mode, reinstall (keeping or wiping files), the action log; and `ve set` on a
running container (applied at once, kept with --save)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tandem.lab.lab import Lab
from tests.containers.conftest import Node, admin_ping

pytestmark = pytest.mark.lab


def address(lab: Lab, host: int) -> str:
    return str(lab.spec.subnet.network_address + host)


@pytest.fixture(scope="module")
def c101(node1: Node, ve_lab: Lab) -> Iterator[Node]:
    node1.ok("create", "101", "--ostemplate", "busybox", "--config", "vps.256MB",
             "--hostname", "vps101.example.com", "--ipadd", address(ve_lab, 53))  # fmt: skip
    node1.ok("start", "101")
    yield node1


def test_services_and_restart(c101: Node, ve_lab: Lab) -> None:
    services = {s["name"]: s["state"] for s in json.loads(c101.ok("services", "101", "--json"))}
    assert services == {"syslogd": "running", "crond": "running", "httpd": "running"}
    c101.ok("service", "101", "httpd", "stop")
    assert json.loads(c101.ok("services", "101", "--json"))[1:] != []
    stopped = {s["name"]: s["state"] for s in json.loads(c101.ok("services", "101", "--json"))}
    assert stopped["httpd"] == "stopped"
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://{address(ve_lab, 53)}/", timeout=3)
    c101.ok("service", "101", "httpd", "restart")
    with urllib.request.urlopen(f"http://{address(ve_lab, 53)}/", timeout=5) as reply:
        assert reply.status == 200
    bad = c101.ve("service", "101", "sshd", "restart")
    assert bad.returncode != 0 and "has no service 'sshd'" in bad.stderr
    log = c101.ok("log", "101")
    assert "service stop of httpd" in log and "service restart of httpd" in log


def test_usage(c101: Node) -> None:
    c101.sh(101, "dd if=/dev/urandom of=/root/blob bs=1M count=30 2>/dev/null")
    usage = json.loads(c101.ok("usage", "101", "--json"))
    assert usage["state"] == "running"
    assert usage["memory_limit"] == 256 * 1024**2 and 0 < usage["memory"] < usage["memory_limit"]
    assert usage["tasks_limit"] == 256 and usage["tasks"] >= 3
    assert usage["disk_used"] >= 30 * 1024**2 and usage["disk_total"] <= 2 * 1024**3
    assert 0 < usage["inodes_used"] < usage["inodes_total"]
    assert usage["cpu_seconds"] > 0 and usage["cpu_percent"] is not None
    text = c101.ok("usage", "101")
    assert "memory" in text and "inodes" in text
    c101.sh(101, "rm /root/blob")


def test_set_on_a_running_container(c101: Node, ve_lab: Lab) -> None:
    extra = address(ve_lab, 54)
    out = c101.ok("set", "101", "--ipadd", extra, "--memory", "128M", "--hostname", "web101")
    assert "Not saved" in out
    assert admin_ping(extra)
    assert c101.ok("exec", "101", "--", "hostname").strip() == "web101"
    assert json.loads(c101.ok("status", "101", "--json"))["usage"]["memory_limit"] == 128 * 1024**2
    assert f'IP_ADDRESS="{address(ve_lab, 53)}"' in c101.run("cat", "/vz/lxc/101/ve.conf").stdout
    c101.ok("set", "101", "--ipdel", extra, "--memory", "256M", "--hostname", "vps101.example.com")
    assert not admin_ping(extra, within=2)
    # Raising memory again works although memory+swap was lowered with it (order matters).
    assert json.loads(c101.ok("status", "101", "--json"))["usage"]["memory_limit"] == 256 * 1024**2
    c101.ok("set", "101", "--cpulimit", "0", "--numproc", "300", "--save")
    conf = c101.run("cat", "/vz/lxc/101/ve.conf").stdout
    assert 'CPULIMIT="0"' in conf and 'NUMPROC="300"' in conf
    assert json.loads(c101.ok("status", "101", "--json"))["usage"]["tasks_limit"] == 300


def can_resize_online() -> bool:
    """Growing a mounted ext4 needs CAP_SYS_RESOURCE; some sandboxes (this CI's) drop it."""
    status = Path("/proc/self/status").read_text()
    effective = int(status.split("CapEff:")[1].split()[0], 16)
    return bool(effective >> 24 & 1)


def test_disk_grows_and_shrinks(c101: Node) -> None:
    grow = c101.ve("set", "101", "--diskspace", "3G", "--save")
    if can_resize_online():
        assert grow.returncode == 0, grow.stderr
    else:
        assert grow.returncode != 0 and "stop the container and set --diskspace" in grow.stderr
        assert 'DISKSPACE="2G"' in c101.run("cat", "/vz/lxc/101/ve.conf").stdout
        size = c101.run("stat", "-c", "%s", "/vz/lxc/101/root.ext4").stdout.strip()
        assert size == str(2 * 1024**3)  # the refused growth left the disk as it was
        c101.ok("stop", "101")
        c101.ok("set", "101", "--diskspace", "3G", "--save")
        c101.ok("start", "101")
    total = json.loads(c101.ok("status", "101", "--json"))["disk"]["total"]
    assert 2.5 * 1024**3 < total <= 3 * 1024**3
    refused = c101.ve("set", "101", "--diskspace", "1G", "--save")
    assert refused.returncode != 0 and "stop container 101 first" in refused.stderr
    c101.ok("stop", "101")
    c101.ok("set", "101", "--diskspace", "1G", "--save")
    c101.ok("start", "101")
    total = json.loads(c101.ok("status", "101", "--json"))["disk"]["total"]
    assert total <= 1024**3
    assert 'DISKSPACE="1G"' in c101.run("cat", "/vz/lxc/101/ve.conf").stdout


def test_repair_mode(c101: Node) -> None:
    c101.sh(101, "echo precious > /root/precious; rm /bin/sh")  # "broken": no shell any more
    c101.ok("stop", "101")
    refused = c101.ve("repair", "start", "101")
    assert refused.returncode == 0, refused.stderr
    info = next(e for e in c101.listing() if e["veid"] == 101)
    assert info["status"] == "repair"
    assert c101.sh(101, "cat /repair/root/precious").stdout.strip() == "precious"
    assert c101.sh(101, "ln -s busybox /repair/bin/sh").returncode == 0  # the repair
    no_start = c101.ve("start", "101")
    assert no_start.returncode != 0 and "is in repair mode" in no_start.stderr
    c101.ok("repair", "stop", "101")
    c101.ok("start", "101")
    assert c101.sh(101, "cat /root/precious").stdout.strip() == "precious"
    log = c101.ok("log", "101")
    assert "repair mode started" in log and "repair mode ended" in log


def test_reinstall_keeping_files(c101: Node) -> None:
    c101.sh(101, "echo mine > /root/mine; echo changed > /etc/motd")
    c101.ok("reinstall", "101")
    assert next(e for e in c101.listing() if e["veid"] == 101)["status"] == "running"
    assert c101.sh(101, "cat /old/root/mine").stdout.strip() == "mine"
    assert c101.sh(101, "test -e /root/mine").returncode != 0
    assert c101.sh(101, "test -e /etc/motd").returncode != 0  # the template has none
    assert c101.ok("exec", "101", "--", "hostname").strip() == "vps101.example.com"


def test_reinstall_wiping_files(c101: Node, ve_lab: Lab) -> None:
    c101.ok("reinstall", "101", "--wipe")
    assert c101.sh(101, "test -e /old").returncode != 0
    assert c101.sh(101, "ls /etc/init.d/httpd").returncode == 0
    assert admin_ping(address(ve_lab, 53))
    log = c101.ok("log", "101", "--json")
    kinds = [e["kind"] for e in json.loads(log)]
    assert kinds.count("reinstall") == 2
