"""Issue 5 acceptance: each bad input is refused with a clear message and nothing changes
(DESIGN invariant 6): unknown template, ID in use, ID below 100 or not a number, address
outside the external subnet or in use, unknown sample, invalid hostname, restore of a
corrupt archive or of a file that is not a backup."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tandem.lab.lab import Lab
from tests.containers.conftest import Node, vz_snapshot

pytestmark = pytest.mark.lab


def address(lab: Lab, host: int) -> str:
    return str(lab.spec.subnet.network_address + host)


@pytest.fixture(scope="module")
def c101(node1: Node, ve_lab: Lab) -> Iterator[dict[str, str]]:
    node1.ok("create", "101", "--ostemplate", "busybox", "--config", "vps.256MB",
             "--ipadd", address(ve_lab, 52))  # fmt: skip
    backup = node1.ok("backup", "101").split(" backed up to ")[1].split(" (")[0]
    node1.run("sh", "-c", f"cp {backup} /vz/good.tar.gz", check=True)
    corrupt = (
        "import sys; p = '/vz/corrupt.tar.gz'; d = bytearray(open(sys.argv[1], 'rb').read()); "
        "d[len(d) // 2] ^= 0x10; open(p, 'wb').write(d)"
    )
    node1.run("python3", "-c", corrupt, backup, check=True)
    node1.run("sh", "-c", f"head -c 100000 {backup} > /vz/truncated.tar.gz", check=True)
    node1.run("sh", "-c", "tar -czf /vz/other.tar.gz -C /etc hostname hosts", check=True)
    yield {"backup": backup}


def refused(node: Node, *args: str) -> str:
    """Run `tandem ve ARGS`, which must fail and leave /vz and the containers as they were;
    returns the one-line message."""
    before = (vz_snapshot(node), node.ok("list", "-a", "--json"))
    result = node.ve(*args)
    after = (vz_snapshot(node), node.ok("list", "-a", "--json"))
    assert result.returncode != 0, f"tandem ve {' '.join(args)} was accepted: {result.stdout}"
    assert before == after, f"tandem ve {' '.join(args)} changed something"
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr  # one sentence (progress lines may precede it)
    return errors[0]


def create(*extra: str, veid: str = "110") -> tuple[str, ...]:
    args = {"--ostemplate": "busybox", "--config": "vps.256MB", "--hostname": "web.example.com"}
    for i in range(0, len(extra), 2):
        args[extra[i]] = extra[i + 1]
    return ("create", veid, *(x for kv in args.items() for x in kv))


def test_unknown_template(c101: dict[str, str], node1: Node) -> None:
    message = refused(node1, *create("--ostemplate", "centos-4"))
    assert "unknown template 'centos-4'" in message and "busybox" in message


def test_template_not_built_yet(c101: dict[str, str], node1: Node) -> None:
    message = refused(node1, *create("--ostemplate", "debian-11"))
    assert "not in the template cache yet" in message
    assert "tandem template build debian-11" in message


def test_id_in_use(c101: dict[str, str], node1: Node) -> None:
    assert "container ID 101 is in use" in refused(node1, *create(veid="101"))


@pytest.mark.parametrize(("veid", "says"), [("99", "below 100"), ("1", "below 100"),
                                            ("abc", "is not a number"), ("10x", "is not a number"),
                                            ("10.5", "is not a number")])  # fmt: skip
def test_bad_ids(c101: dict[str, str], node1: Node, veid: str, says: str) -> None:
    assert says in refused(node1, *create(veid=veid))


def test_address_outside_the_external_subnet(
    c101: dict[str, str], node1: Node, ve_lab: Lab
) -> None:
    message = refused(node1, *create("--ipadd", "192.168.77.5"))
    assert f"outside the external network {ve_lab.spec.subnet}" in message
    message = refused(node1, "set", "101", "--ipadd", "192.168.255.3", "--save")
    assert "outside the external network" in message


def test_address_of_another_container(c101: dict[str, str], node1: Node, ve_lab: Lab) -> None:
    message = refused(node1, *create("--ipadd", address(ve_lab, 52)))
    assert f"address {address(ve_lab, 52)} is in use by container 101" in message


def test_address_of_the_cluster(c101: dict[str, str], node1: Node, ve_lab: Lab) -> None:
    assert "in use as the external address of node2" in refused(
        node1, *create("--ipadd", address(ve_lab, 12))
    )
    assert "in use as the gateway" in refused(node1, *create("--ipadd", address(ve_lab, 1)))


def test_address_in_use_on_the_wire(c101: dict[str, str], node1: Node, ve_lab: Lab) -> None:
    # The administrator's PC holds .100; nothing in the configuration says so, ARP does.
    message = refused(node1, *create("--ipadd", address(ve_lab, 100)))
    assert "is in use on the external network (answered by" in message


def test_bad_address_syntax(c101: dict[str, str], node1: Node) -> None:
    assert "is not an IPv4 address" in refused(node1, *create("--ipadd", "10.0.0.300"))


def test_unknown_sample(c101: dict[str, str], node1: Node) -> None:
    message = refused(node1, *create("--config", "vps.2GB"))
    assert "unknown sample 'vps.2GB'" in message and "vps.256MB" in message


@pytest.mark.parametrize("name", ["bad_host", "-web", "a..b", "x" * 70])
def test_invalid_hostname(c101: dict[str, str], node1: Node, name: str) -> None:
    assert "is not valid" in refused(node1, *create("--hostname", name))


def test_bad_values_for_set(c101: dict[str, str], node1: Node) -> None:
    assert "is not a size" in refused(node1, "set", "101", "--memory", "lots", "--save")
    assert "would be lost; add --save" in refused(node1, "set", "101", "--numproc", "100")
    assert "nothing to set" in refused(node1, "set", "101", "--save")
    assert "has no address" in refused(node1, "set", "101", "--ipdel", "10.1.2.3", "--save")
    assert "takes yes or no" in node1.ve("set", "101", "--onboot", "maybe").stderr


def test_restore_of_a_corrupt_archive(c101: dict[str, str], node1: Node) -> None:
    assert "is corrupt" in refused(node1, "restore", "/vz/corrupt.tar.gz", "--as", "120")
    assert "is corrupt" in refused(node1, "restore", "/vz/truncated.tar.gz", "--as", "120")


def test_restore_of_something_else(c101: dict[str, str], node1: Node) -> None:
    assert "is not a tandem backup" in refused(node1, "restore", "/etc/hostname", "--as", "120")
    assert "no manifest" in refused(node1, "restore", "/vz/other.tar.gz", "--as", "120")
    assert "does not exist" in refused(node1, "restore", "/vz/nothing.tar.gz")


def test_restore_over_an_existing_container(c101: dict[str, str], node1: Node) -> None:
    assert "container ID 101 is in use" in refused(node1, "restore", "/vz/good.tar.gz")


def test_the_good_archive_is_fine(c101: dict[str, str], node1: Node) -> None:
    node1.ok("restore", "/vz/good.tar.gz", "--as", "120", "--drop-ip")
    assert [e["veid"] for e in json.loads(node1.ok("list", "-a", "--json"))] == [101, 120]
    node1.ok("destroy", "120")


def test_without_vz_nothing_happens(c101: dict[str, str], ve_lab: Lab) -> None:
    node2 = Node(ve_lab, "node2")  # its /vz is the node's plain folder, not a filesystem
    node2.run("umount", "/vz", check=True)
    result = node2.ve(*create())
    assert result.returncode != 0 and "/vz is not mounted" in result.stderr
    assert node2.run("ls", "-A", "/vz").stdout == ""
