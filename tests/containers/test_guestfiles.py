"""Files written into a container's root: what the definition says, and never through a
link that the container's root user may have planted."""

from __future__ import annotations

from pathlib import Path

from tandem.containers import guestfiles
from tests.containers.helpers import definition


def make_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n10.9.9.9 db.example.com\n")
    return root


def test_configure_writes_hostname_hosts_resolv(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    assert guestfiles.configure(root, definition()) == []
    assert (root / "etc/hostname").read_text() == "vps101.example.com\n"
    hosts = (root / "etc/hosts").read_text().splitlines()
    assert "10.9.9.9 db.example.com" in hosts  # the operator's own lines stay
    assert hosts[-1] == "10.0.0.103 vps101.example.com vps101 # tandem"
    resolv = (root / "etc/resolv.conf").read_text()
    assert "search example.com" in resolv and "nameserver 10.0.0.1" in resolv


def test_configure_again_replaces_its_own_line(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    guestfiles.configure(root, definition())
    guestfiles.configure(root, definition(hostname="web.example.com"))
    hosts = (root / "etc/hosts").read_text()
    assert "vps101" not in hosts and hosts.count("# tandem") == 1


def test_never_writes_through_a_planted_link(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "node-etc"
    outside.mkdir()
    (outside / "hostname").write_text("node1\n")
    (root / "etc").symlink_to(outside)
    skipped = guestfiles.configure(root, definition())
    assert "/etc/hostname" in skipped
    assert (outside / "hostname").read_text() == "node1\n"
    assert not (outside / "hosts").exists()


def test_replaces_a_resolv_conf_link(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    target = tmp_path / "resolved.conf"
    target.write_text("nameserver 127.0.0.53\n")
    (root / "etc/resolv.conf").symlink_to(target)
    guestfiles.configure(root, definition())
    assert not (root / "etc/resolv.conf").is_symlink()
    assert target.read_text() == "nameserver 127.0.0.53\n"


def test_init_program(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for program in ("bin/busybox", "lib/systemd/systemd"):
        (root / program).parent.mkdir(parents=True)
        (root / program).write_text("")
    (root / "sbin").mkdir(parents=True)
    (root / "sbin/init").symlink_to("../bin/busybox")
    assert guestfiles.init_program(root) == "busybox"
    (root / "sbin/init").unlink()
    (root / "sbin/init").symlink_to("/lib/systemd/systemd")
    assert guestfiles.init_program(root) == "systemd"
    (root / "sbin/init").unlink()
    (root / "sbin/init").write_text("")
    assert guestfiles.init_program(root) == "sysvinit"


def test_init_program_behind_merged_usr(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/sbin").mkdir(parents=True)
    (root / "usr/lib/systemd").mkdir(parents=True)
    (root / "usr/lib/systemd/systemd").write_text("")
    (root / "sbin").symlink_to("usr/sbin")
    (root / "usr/sbin/init").symlink_to("/lib/systemd/systemd")
    (root / "lib").symlink_to("usr/lib")
    assert guestfiles.init_program(root) == "systemd"


def test_resolve_never_leaves_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/escape").symlink_to("../../../../..")
    assert guestfiles.resolve(root, "etc/escape") == root
    (root / "loop").symlink_to("loop")
    assert guestfiles.resolve(root, "loop") is None
