"""Issue 5 acceptance: back up 101, destroy it, restore it: every file written before the
backup is back, byte for byte (VE-5). Also: the template cache backup (seed 5.6.2)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import pytest

from tandem.lab.lab import Lab
from tests.containers.conftest import Node, admin_ping

pytestmark = pytest.mark.lab

# Every entry of a file tree: type, mode, owner, size, content hash, link target, xattrs,
# mtime; run inside the node on a container's mounted disk.
SNAPSHOT = r"""
import hashlib, json, os, stat, sys
root = sys.argv[1]
skip = ("./var/log",)  # syslogd writes there between the snapshot and the freeze
dev = os.lstat(root).st_dev
out = {}
for here, dirs, files in os.walk(root):
    rel_here = "." + here[len(root):]
    dirs[:] = [d for d in dirs if os.lstat(os.path.join(here, d)).st_dev == dev
               and not (rel_here + "/" + d).startswith(skip)]
    for name in dirs + files:
        path = os.path.join(here, name)
        rel = os.path.relpath(path, root)
        st = os.lstat(path)
        entry = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                 st.st_nlink]
        if stat.S_ISREG(st.st_mode):
            with open(path, "rb") as f:
                entry += [st.st_size, hashlib.sha256(f.read()).hexdigest(), int(st.st_mtime)]
        elif stat.S_ISLNK(st.st_mode):
            entry.append(os.readlink(path))
        try:
            names = sorted(os.listxattr(path, follow_symlinks=False))
        except OSError:
            names = []
        entry.append({n: os.getxattr(path, n, follow_symlinks=False).hex() for n in names})
        out[rel] = entry
json.dump(out, sys.stdout, sort_keys=True)
"""

WRITE = """
set -e
mkdir -p /srv/data/empty
dd if=/dev/urandom of=/srv/data/random bs=1M count=8 2>/dev/null
echo "the customer's order 4711" > /srv/data/order.txt
ln /srv/data/order.txt /srv/data/order-hardlink.txt
ln -s ../data/order.txt /srv/data/order-symlink
dd if=/dev/urandom of=/srv/data/sparse bs=4k count=1 seek=10000 2>/dev/null
chmod 600 /srv/data/order.txt
chmod 4711 /srv/data/random
chown 1000:1000 /srv/data/sparse
mkfifo /srv/data/fifo
"""


def snapshot(node: Node, path: str) -> dict[str, list[object]]:
    out = node.run(sys.executable, "-c", SNAPSHOT, path, check=True).stdout
    return dict(json.loads(out))


def address(lab: Lab, host: int) -> str:
    return str(lab.spec.subnet.network_address + host)


@pytest.fixture(scope="module")
def c101(node1: Node, ve_lab: Lab) -> Iterator[Node]:
    node1.ok("create", "101", "--ostemplate", "busybox", "--config", "vps.256MB",
             "--hostname", "vps101.example.com", "--ipadd", address(ve_lab, 51))  # fmt: skip
    node1.ok("start", "101")
    written = node1.sh(101, WRITE)
    assert written.returncode == 0, written.stderr
    # An extended attribute (as a file capability would be), set from the node.
    node1.run(
        sys.executable, "-c",
        "import os; os.setxattr('/vz/lxc/101/rootfs/srv/data/order.txt', 'user.tandem', b'kept')",
        check=True,
    )  # fmt: skip
    yield node1


def test_backup_destroy_restore_byte_for_byte(c101: Node, ve_lab: Lab) -> None:
    node = c101
    before = snapshot(node, "/vz/lxc/101/rootfs")
    assert before["srv/data/order.txt"][-1] == {"user.tandem": b"kept".hex()}
    out = node.ok("backup", "101")
    archive = out.split(" backed up to ")[1].split(" (")[0]
    assert archive.startswith("/vz/backups/node1/ve101-") and archive.endswith(".tar.gz")
    assert node.sh(101, "echo still running").returncode == 0  # frozen, then thawed
    assert "frozen" in node.ok("log", "101")
    node.ok("stop", "101")
    node.ok("destroy", "101")
    assert node.run("test", "-e", "/vz/lxc/101").returncode != 0
    restored = node.ok("restore", archive)
    assert "Container 101 restored" in restored
    node.run("mkdir", "-p", "/mnt/check", check=True)
    node.run("mount", "-o", "loop,ro", "/vz/lxc/101/root.ext4", "/mnt/check", check=True)
    try:
        after = snapshot(node, "/mnt/check")
    finally:
        node.run("umount", "/mnt/check")
    missing = sorted(set(before) - set(after))
    changed = sorted(k for k in before if k in after and before[k] != after[k])
    assert missing == [] and changed == [], f"missing {missing[:5]}, changed {changed[:5]}"
    assert before["srv/data/sparse"][5] == 10001 * 4096
    node.ok("start", "101")
    assert admin_ping(address(ve_lab, 51))  # its address came back with it
    log = node.ok("log", "101")
    assert " restore " in log and " create " in log  # the history came back too


def test_restore_as_another_id_without_addresses(c101: Node) -> None:
    node = c101
    archive = json.loads(node.ok("backups", "--json"))[0]["path"]
    refused = node.ve("restore", archive, "--as", "104")
    assert refused.returncode != 0 and "is in use by container 101" in refused.stderr
    assert "--drop-ip" in refused.stderr
    node.ok("restore", archive, "--as", "104", "--drop-ip")
    try:
        entry = next(e for e in node.listing() if e["veid"] == 104)
        assert entry["ip_addr"] == [] and entry["status"] == "stopped"
        node.ok("start", "104")
        assert node.ve("exec", "104", "--", "cat", "/srv/data/order.txt").stdout.startswith(
            "the customer's order 4711"
        )
    finally:
        node.ve("stop", "--fast", "104")
        node.ve("destroy", "104")


def test_backup_with_stop_restarts_the_container(c101: Node, ve_lab: Lab) -> None:
    node = c101
    out = node.ok("backup", "101", "--stop")
    assert "backed up to /vz/backups/node1/" in out
    assert next(e for e in node.listing() if e["veid"] == 101)["status"] == "running"
    assert admin_ping(address(ve_lab, 51))
    assert "stopped)" in node.ok("log", "101").splitlines()[-1]


def test_backup_of_a_stopped_container(c101: Node) -> None:
    node = c101
    node.ok("create", "105", "--ostemplate", "busybox", "--config", "vps.256MB")
    try:
        out = node.ok("backup", "105")
        assert "ve105-" in out
        assert next(e for e in node.listing() if e["veid"] == 105)["status"] == "stopped"
        assert node.run("findmnt", "/vz/lxc/105/rootfs").returncode != 0
    finally:
        node.ve("destroy", "105")


def test_template_cache_backup_and_restore(c101: Node) -> None:
    node = c101
    out = node.run("tandem", "template-cache", "backup", check=True).stdout
    archive = out.split("saved to ")[1].split(" (")[0]
    assert archive.startswith("/vz/backups/templatecache/templatecache-")
    listing = node.run("tar", "-tf", archive, check=True).stdout.split()
    assert "tandem-backup.json" in listing and "busybox.tar.gz" in listing
    node.run("tandem", "template", "remove", "busybox", check=True)
    restored = node.run("tandem", "template-cache", "restore", archive, check=True).stdout
    assert "busybox" in restored
    assert "busybox" in node.run("tandem", "template", "list", check=True).stdout


def test_long_runs_show_progress(c101: Node) -> None:
    node = c101
    node.sh(101, "dd if=/dev/urandom of=/root/big bs=1M count=96 2>/dev/null")
    try:
        out = node.ve("backup", "101")
        assert out.returncode == 0, out.stderr
        assert "freezing container 101 for the copy" in out.stderr
        steps = [line for line in out.stderr.splitlines() if line.startswith("copying files: ")]
        assert steps[-1] == "copying files: 100%" and len(steps) >= 3
    finally:
        node.sh(101, "rm /root/big")
