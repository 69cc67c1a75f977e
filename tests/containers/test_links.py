"""drbdlinks (DR-9): the list in cluster.toml, and the links put in place and taken away
on a node (bind mounts: the node's own files stay untouched underneath)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tandem.config import InvalidConfig, validate_config
from tandem.lab.lab import Lab
from tests.containers.conftest import Node, mount_vz, unmount_vz

BASE = {
    "node1": {"hostname": "node1", "crossover": "192.168.255.1", "external": "10.0.0.11"},
    "node2": {"hostname": "node2", "crossover": "192.168.255.2", "external": "10.0.0.12"},
}


def test_the_default_list_is_etc_lxc() -> None:
    assert validate_config(BASE).containers.links == [Path("/etc/lxc")]


def test_a_list_of_the_operators() -> None:
    cfg = validate_config({**BASE, "containers": {"links": ["/etc/lxc", "/etc/ssl/private"]}})
    assert cfg.containers.links == [Path("/etc/lxc"), Path("/etc/ssl/private")]


@pytest.mark.parametrize(
    ("link", "says"),
    [("etc/lxc", "absolute path"), ("/vz/lxc", "outside /vz"), ("/", "absolute path"),
     ("/etc/../vz", "absolute path")],
)  # fmt: skip
def test_bad_links_are_refused(link: str, says: str) -> None:
    with pytest.raises(InvalidConfig, match=says):
        validate_config({**BASE, "containers": {"links": [link]}})


def tree_digest(path: Path) -> str:
    digest = hashlib.sha256()
    for item in sorted(path.rglob("*")):
        digest.update(str(item).encode())
        if item.is_file():
            digest.update(item.read_bytes())
    return digest.hexdigest()


@pytest.mark.lab
def test_links_up_and_down_in_a_node(ve_lab: Lab) -> None:
    host_lxc = tree_digest(Path("/etc/lxc"))
    node1 = mount_vz(ve_lab)
    try:
        node1.ok("create", "101", "--ostemplate", "busybox", "--config", "vps.256MB")
        assert "101" not in node1.run("lxc-ls", "-1").stdout.split()  # /etc/lxc: the node's
        up = node1.run("tandem", "links", "up", check=True).stdout
        assert up.split()[:2] == ["up", "/etc/lxc"] and "/vz/links/etc/lxc" in up
        assert node1.run("lxc-ls", "-1", check=True).stdout.split() == ["101"]
        conf = node1.run("cat", "/etc/lxc/lxc.conf", check=True).stdout
        assert "lxc.lxcpath = /vz/lxc" in conf
        again = node1.run("tandem", "links", "up", check=True).stdout  # idempotent
        assert again == up
        down = node1.run("tandem", "links", "down", check=True).stdout
        assert down.split()[:2] == ["down", "/etc/lxc"]
        assert "101" not in node1.run("lxc-ls", "-1").stdout.split()
        status = node1.run("tandem", "links", "status", "--json", check=True).stdout
        assert '"state": "down"' in status
    finally:
        node1.run("tandem", "links", "down")
        node1.ve("destroy", "101")
        unmount_vz(node1)
    assert tree_digest(Path("/etc/lxc")) == host_lxc  # the host's own /etc/lxc untouched


@pytest.mark.lab
def test_links_need_vz(ve_lab: Lab) -> None:
    node2 = Node(ve_lab, "node2")
    node2.run("umount", "/vz", check=True)
    try:
        result = node2.run("tandem", "links", "up")
        assert result.returncode != 0 and "/vz is not mounted" in result.stderr
    finally:
        bind = ve_lab.spec.machine_dir("node2") / "vz"
        node2.run("mount", "--bind", str(bind), "/vz")
