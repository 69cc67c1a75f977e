"""LAB-2 acceptance: each node's /var/lib/tandem is a disk with a volatile write cache.

`lab power-cut` loses what the node had not flushed; `lab crash` does not (the disk kept
its power); `lab fail-disk` gives EIO inside the node until `lab heal-disk`; `lab down`
after all that leaves nothing behind. What a power cut keeps is in docs/lab.md ("Disks").

A directory fsync by any process of the node commits every pending name change on its
disk (the disk's journal is one, like ext4's), and the node's own daemons do that now and
then (membership.json). So where a test depends on no commit having happened, it reads
the disk's commit counter at the moment of the cut and expects the stricter outcome only
when nothing committed meanwhile; otherwise the milder one (the name kept, the data not).
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from tandem.lab.lab import Lab
from tests.conftest import TANDEM, TEST_LAB, tandem
from tests.lab.conftest import in_node

pytestmark = pytest.mark.lab

# Runs inside a node: write DATA to PATH at offset 0 (truncating), then fsync the file
# and/or its directory as asked; or read PATH (prints JSON: null when it does not exist).
WRITE = """
import os, sys
path, data, fsync, dirsync = sys.argv[1], sys.argv[2].encode(), sys.argv[3], sys.argv[4]
fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
os.write(fd, data)
if fsync == "1":
    os.fsync(fd)
os.close(fd)
if dirsync == "1":
    d = os.open(os.path.dirname(path), os.O_RDONLY)
    os.fsync(d)
    os.close(d)
"""
READ = """
import json, sys
try:
    print(json.dumps(open(sys.argv[1]).read()))
except FileNotFoundError:
    print("null")
"""
RENAME = """
import os, sys
os.rename(sys.argv[1], sys.argv[2])
if sys.argv[3] == "1":
    d = os.open(os.path.dirname(sys.argv[2]), os.O_RDONLY)
    os.fsync(d)
    os.close(d)
"""


def write(node: str, path: str, data: str, fsync: bool, dirsync: bool) -> None:
    flags = ("1" if fsync else "0", "1" if dirsync else "0")
    result = in_node(node, "python3", "-c", WRITE, path, data, *flags)
    assert result.returncode == 0, result.stderr


def read(node: str, path: str) -> str | None:
    result = in_node(node, "python3", "-c", READ, path)
    assert result.returncode == 0, result.stderr
    value: str | None = json.loads(result.stdout)
    return value


def commits(lab: Lab, node: str) -> int:
    return int(lab.status()["machines"][node]["disk"]["commits"])


def power_cut_and_boot(lab: Lab, *nodes: str) -> dict[str, int]:
    """Cut the power, note each disk's commit count (frozen: the node is dead), boot."""
    result = tandem("lab", "power-cut", *nodes)
    assert result.returncode == 0, result.stderr
    at_cut = {node: commits(lab, node) for node in nodes}
    for node in nodes:
        booted = tandem("lab", "boot", node)
        assert booted.returncode == 0, booted.stderr
    return at_cut


def test_a_file_written_without_fsync_is_gone_after_a_power_cut(lab: Lab) -> None:
    write("node1", "/var/lib/tandem/t1-kept", "old", fsync=True, dirsync=True)
    write("node1", "/var/lib/tandem/t1-kept", "new, never flushed", fsync=False, dirsync=False)
    write("node1", "/var/lib/tandem/t1-new", "never flushed", fsync=False, dirsync=False)
    after = commits(lab, "node1")
    at_cut = power_cut_and_boot(lab, "node1")
    assert read("node1", "/var/lib/tandem/t1-kept") == "old"
    if at_cut["node1"] == after:  # nothing committed the new name before the cut
        assert read("node1", "/var/lib/tandem/t1-new") is None
    else:  # a daemon of the node fsynced the directory: the name was kept, not the data
        assert read("node1", "/var/lib/tandem/t1-new") == ""
    # On the host, the node's real directory holds exactly that.
    assert (lab.spec.disk_store("node1") / "t1-kept").read_text() == "old"


def test_a_file_written_with_fsync_survives_a_power_cut(lab: Lab) -> None:
    write("node1", "/var/lib/tandem/t2", "flushed", fsync=True, dirsync=True)
    power_cut_and_boot(lab, "node1")
    assert read("node1", "/var/lib/tandem/t2") == "flushed"


def test_a_rename_without_a_directory_fsync_is_undone(lab: Lab) -> None:
    write("node2", "/var/lib/tandem/t3", "version 1", fsync=True, dirsync=True)
    write("node2", "/var/lib/tandem/t3.tmp", "version 2", fsync=True, dirsync=False)
    renamed = in_node("node2", "python3", "-c", RENAME, *_rename("t3.tmp", "t3", False))
    assert renamed.returncode == 0, renamed.stderr
    after = commits(lab, "node2")
    at_cut = power_cut_and_boot(lab, "node2")
    expected = "version 1" if at_cut["node2"] == after else "version 2"
    assert read("node2", "/var/lib/tandem/t3") == expected
    # The same with the directory fsynced: the new version, always.
    write("node2", "/var/lib/tandem/t3.tmp", "version 3", fsync=True, dirsync=False)
    renamed = in_node("node2", "python3", "-c", RENAME, *_rename("t3.tmp", "t3", True))
    assert renamed.returncode == 0, renamed.stderr
    power_cut_and_boot(lab, "node2")
    assert read("node2", "/var/lib/tandem/t3") == "version 3"
    assert read("node2", "/var/lib/tandem/t3.tmp") is None


def _rename(source: str, target: str, dirsync: bool) -> list[str]:
    base = "/var/lib/tandem/"
    return [base + source, base + target, "1" if dirsync else "0"]


def test_a_crash_is_not_a_power_cut(lab: Lab) -> None:
    write("node1", "/var/lib/tandem/t4", "accepted, never flushed", fsync=False, dirsync=False)
    tandem("lab", "crash", "node1", check=True)
    tandem("lab", "boot", "node1", check=True)
    assert read("node1", "/var/lib/tandem/t4") == "accepted, never flushed"
    # The disk wrote back what it had accepted while it kept its power: a later power
    # cut does not take it away.
    power_cut_and_boot(lab, "node1")
    assert read("node1", "/var/lib/tandem/t4") == "accepted, never flushed"


def test_both_nodes_lose_power_at_once(lab: Lab) -> None:
    for node in ("node1", "node2"):
        write(node, "/var/lib/tandem/t5", f"{node} flushed", fsync=True, dirsync=True)
        write(node, "/var/lib/tandem/t5", f"{node} not flushed", fsync=False, dirsync=False)
    result = tandem("lab", "power-cut", "node1", "node2")
    assert result.returncode == 0, result.stderr
    machines = lab.status()["machines"]
    assert machines["node1"]["state"] == machines["node2"]["state"] == "off"
    for node in ("node1", "node2"):
        tandem("lab", "boot", node, check=True)
        assert read(node, "/var/lib/tandem/t5") == f"{node} flushed"


# A writer inside the node: every 0.1 s it writes and fsyncs through one descriptor and
# prints ok or the errno; it stops after five beats that worked again after errors (or 30 s).
WRITER = """
import os, time
fd = os.open("/var/lib/tandem/t6", os.O_CREAT | os.O_WRONLY, 0o644)
errors, recovered, deadline = 0, 0, time.monotonic() + 30
while recovered < 5 and time.monotonic() < deadline:
    try:
        os.pwrite(fd, b"beat", 0)
        os.fsync(fd)
        print("ok", flush=True)
        recovered += 1 if errors else 0
    except OSError as exc:
        print(f"errno {exc.errno}", flush=True)
        errors += 1
    time.sleep(0.1)
"""


def test_fail_disk_gives_eio_to_a_writer_in_the_node_until_healed(lab: Lab) -> None:
    writer = subprocess.Popen(
        [TANDEM, "lab", "exec", "node2", "--", "python3", "-c", WRITER],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "TANDEM_LAB_NAME": TEST_LAB},
    )  # fmt: skip
    try:
        time.sleep(1.2)
        tandem("lab", "fail-disk", "node2", check=True)
        info = json.loads(tandem("lab", "status", "--json").stdout)
        assert info["machines"]["node2"]["disk"]["state"] == "failed"
        assert in_node("node2", "hostname").stdout.strip() == "node2"  # the node runs on
        time.sleep(1.0)
        tandem("lab", "heal-disk", "node2", check=True)
        out, _ = writer.communicate(timeout=30)
    finally:
        tandem("lab", "heal-disk", "node2")
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    beats = [line for line in out.splitlines() if line]
    assert beats[0] == "ok"
    assert "errno 5" in beats, beats  # EIO
    first_error = beats.index("errno 5")
    assert "ok" in beats[first_error:], beats  # healed: the same descriptor works again
    assert beats[-1] == "ok"


def test_status_shows_what_the_disk_holds(lab: Lab) -> None:
    write("node2", "/var/lib/tandem/t7", "x" * 10000, fsync=False, dirsync=False)
    disk = json.loads(tandem("lab", "status", "--json").stdout)["machines"]["node2"]["disk"]
    assert disk["state"] == "ok"
    assert disk["dirty_bytes"] >= 10000
    assert disk["dirty_files"] >= 1
    shown = tandem("lab", "status").stdout
    assert "unflushed data" in shown and "power cuts" in shown


def test_a_node_boots_on_a_failed_disk(lab: Lab) -> None:
    tandem("lab", "fail-disk", "node2", check=True)
    try:
        tandem("lab", "crash", "node2", check=True)
        booted = tandem("lab", "boot", "node2")
        assert booted.returncode == 0, booted.stderr  # the disk's root still shows
        assert in_node("node2", "hostname").stdout.strip() == "node2"
        assert "Input/output error" in in_node("node2", "ls", "/var/lib/tandem").stderr
    finally:
        tandem("lab", "heal-disk", "node2", check=True)
    assert in_node("node2", "ls", "/var/lib/tandem").returncode == 0
