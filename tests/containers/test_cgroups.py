"""Finding the cgroup hierarchies: v1 (this machine), v2, and hybrids."""

from __future__ import annotations

from pathlib import Path

from tandem.containers import cgroups

V1_HYBRID = """\
30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
32 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
33 30 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
34 30 0:30 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
35 30 0:31 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
"""
V2 = "31 25 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"


def test_hybrid_counts_as_v1() -> None:
    system = cgroups.parse_mountinfo(V1_HYBRID)
    assert system.version == 1
    assert system.v1["memory"] == Path("/sys/fs/cgroup/memory")
    assert system.v1["name=systemd"] == Path("/sys/fs/cgroup/systemd")
    assert system.unified == Path("/sys/fs/cgroup/unified")
    assert Path("/sys/fs/cgroup/unified") in system.hierarchies()


def test_pure_v2() -> None:
    system = cgroups.parse_mountinfo(V2)
    assert system.version == 2
    assert system.v1 == {} and system.unified == Path("/sys/fs/cgroup")


def test_remove_tree_removes_only_empty_dirs(tmp_path: Path) -> None:
    (tmp_path / "ve101/ns").mkdir(parents=True)
    (tmp_path / "ve102").mkdir()
    (tmp_path / "ve102/tasks").write_text("1\n")  # a file: like a cgroup with processes
    assert cgroups.remove_tree(tmp_path / "ve101") == [tmp_path / "ve101/ns", tmp_path / "ve101"]
    assert cgroups.remove_tree(tmp_path / "ve102") == []
    assert (tmp_path / "ve102").exists()
