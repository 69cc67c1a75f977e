"""Lab fixtures for the containers area: a lab per test module, and node1's /vz as an ext4
filesystem on a loop device (until the replicated volume exists), as the product expects
it: mounted at /vz. Containers are real LXC containers inside node1.

Commands run inside the node as an operator's would, with `tandem ve ...`, entered with
nsenter directly (not through `tandem lab exec`) to save a Python start per command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tandem.lab.lab import Lab, default_subnet
from tandem.lab.sweep import MARK, sweep
from tandem.lab.topology import LabSpec
from tests.conftest import TEST_LAB, tandem

VZ_SIZE = 8 * 1024**3  # sparse: only what is written takes space on the host
BIN = str(Path(sys.executable).parent)


@dataclass
class Node:
    """A lab node, to run commands in as its operator."""

    lab: Lab
    name: str

    @property
    def pid(self) -> int:
        return self.lab.running()[self.name]  # type: ignore[index]

    def run(
        self,
        *argv: str,
        timeout: float = 180,
        check: bool = False,
        env: dict[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        full_env = {
            **os.environ,
            MARK: TEST_LAB,
            "PATH": f"{BIN}:/usr/sbin:/usr/bin:/sbin:/bin",
            **(env or {}),
        }
        result = subprocess.run(
            ["nsenter", "-t", str(self.pid), "-a", "--", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            check=False,
            input=input,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} failed ({result.returncode}): {result.stderr}{result.stdout}"
            )
        return result

    def ve(self, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return self.run("tandem", "ve", *args, **kw)  # type: ignore[arg-type]

    def ok(self, *args: str, timeout: float = 180) -> str:
        """`tandem ve ARGS`, which must succeed; its output."""
        result = self.ve(*args, timeout=timeout)
        assert result.returncode == 0, f"tandem ve {' '.join(args)}: {result.stderr}{result.stdout}"
        return result.stdout

    def listing(self) -> list[dict[str, object]]:
        return list(json.loads(self.ok("list", "-a", "--json")))

    def sh(self, veid: int, script: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return self.ve("exec", str(veid), "--", "/bin/sh", "-c", script, timeout=timeout)


@pytest.fixture(scope="module")
def ve_lab() -> Iterator[Lab]:
    """A lab for the module; taken down afterwards even when a test fails."""
    sweep(LabSpec(TEST_LAB, default_subnet(TEST_LAB)))
    result = tandem("lab", "up")
    try:
        assert result.returncode == 0, result.stderr
        yield Lab.open(TEST_LAB)
    finally:
        tandem("lab", "down")


def mount_vz(lab: Lab, node: str = "node1", fresh: bool = True) -> Node:
    """node's /vz: an ext4 on a loop device over a file in the node's lab folder (made
    anew unless `fresh` is False, as after a reboot)."""
    image = lab.spec.machine_dir(node) / "vz.img"  # type: ignore[arg-type]
    if fresh:
        image.unlink(missing_ok=True)
        with image.open("xb") as f:
            f.truncate(VZ_SIZE)
        subprocess.run(
            ["mkfs.ext4", "-q", "-F", "-E", "nodiscard", "-L", "tandem-vz", str(image)],
            check=True,
        )
    machine = Node(lab, node)
    machine.run("mount", "-o", "loop", str(image), "/vz", check=True)
    return machine


def unmount_vz(machine: Node) -> None:
    """Stop every container (fast) and unmount /vz; the loop device goes with the mount."""
    listed = machine.ve("list", "--json")
    if listed.returncode == 0:
        for entry in json.loads(listed.stdout):
            machine.ve("stop", "--fast", str(entry["veid"]))
    machine.run("sh", "-c", "umount /vz/lxc/*/rootfs 2>/dev/null; umount /vz")


@pytest.fixture(scope="module")
def node1(ve_lab: Lab) -> Iterator[Node]:
    """node1 with its /vz mounted, ready for `tandem ve`."""
    machine = mount_vz(ve_lab)
    try:
        yield machine
    finally:
        unmount_vz(machine)


def vz_snapshot(machine: Node) -> str:
    """Everything under /vz except logs: names, sizes, modes (to see that nothing changed)."""
    return machine.run(
        "sh",
        "-c",
        "cd /vz && find . -xdev -not -name '*.log' -not -name '*.lock' "
        "-printf '%p %s %m\\n' | sort",
        check=True,
    ).stdout


def admin_ping(address: str, within: float = 6.0) -> bool:
    """Ping from this host, the lab's administrator PC: true when one reply comes within
    `within` seconds (an echo a second, so that a busy CI machine or a first ARP
    resolution is not taken for a dead address; a test that expects silence passes a
    short `within`). When no reply comes, the host's route and neighbour entry are
    printed for the failure report."""
    deadline = str(max(1, round(within)))
    ping = subprocess.run(["ping", "-n", "-c", "1", "-w", deadline, address], capture_output=True)
    if ping.returncode == 0:
        return True
    for probe in (["ip", "route", "get", address], ["ip", "neigh", "show", "to", address]):
        shown = subprocess.run(probe, capture_output=True, text=True)
        print("$", " ".join(probe), "\n", shown.stdout, shown.stderr)
    _from_the_nodes(address)
    return False


def _from_the_nodes(address: str) -> None:
    """Where the packet stops: each running node's route to the address, whether the node
    itself reaches it, and its neighbour entries (the administrator's among them)."""
    try:
        lab = Lab.open(TEST_LAB)
        running = lab.running()
    except Exception as exc:  # a diagnosis must not hide the failure
        print(f"(no lab to look into: {exc})")
        return
    for node in ("node1", "node2"):
        if node not in running:
            continue
        for probe in (["ip", "route", "get", address], ["ping", "-n", "-c", "1", "-W", "1",
                      address], ["ip", "neigh", "show"]):  # fmt: skip
            shown = subprocess.run(lab.exec_argv(node, probe), capture_output=True, text=True,
                                   env=lab.exec_env(), timeout=20)  # fmt: skip
            print(f"{node}$", " ".join(probe), "\n", shown.stdout, shown.stderr)
