"""Creating and starting a busybox container takes under 5 s (issue 5).

In a lab (brought up if it is not), on node1 with /vz as an ext4 on a loop device: the
busybox template is built into the cache once, then each round times, as an operator
types them, `tandem ve create ID --ostemplate busybox --config vps.256MB --ipadd A` and
`tandem ve start ID` (wall clock, Python start-up included), then checks the container
answers a ping from the administrator's PC. The baseline, in the same run and node, is
bare LXC: `lxc-create -t busybox` plus `lxc-start` of a container without limits, disk
image or network. Prints every round, the medians and the ratio.

    uv run python bench/containers.py [--lab tandemb] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tandem.lab.lab import Lab
from tandem.lab.sweep import MARK

LIMIT = 5.0
BIN = str(Path(sys.executable).parent)


def in_node(lab: Lab, *argv: str) -> subprocess.CompletedProcess[str]:
    pid = lab.running()["node1"]
    env = {**os.environ, MARK: lab.spec.name, "PATH": f"{BIN}:/usr/sbin:/usr/bin:/sbin:/bin"}
    result = subprocess.run(
        ["nsenter", "-t", str(pid), "-a", "--", *argv],
        capture_output=True, text=True, env=env, check=False, timeout=300,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {result.stderr}{result.stdout}")
    return result


def timed(lab: Lab, *argv: str) -> float:
    started = time.monotonic()
    in_node(lab, *argv)
    return time.monotonic() - started


def mount_vz(lab: Lab) -> None:
    image = lab.spec.machine_dir("node1") / "vz.img"
    image.unlink(missing_ok=True)
    with image.open("xb") as f:
        f.truncate(8 * 1024**3)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-E", "nodiscard", str(image)], check=True)
    in_node(lab, "mount", "-o", "loop", str(image), "/vz")


def baseline(lab: Lab) -> float:
    """Bare LXC: lxc-create -t busybox + lxc-start, no limits, no disk image, no network."""
    with tempfile.TemporaryDirectory(prefix="tandem-bench-", dir="/vz") as tmp:
        conf = Path(tmp) / "default.conf"
        conf.write_text("lxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\n")
        seconds = timed(lab, "lxc-create", "-P", tmp, "-n", "b", "-t", "busybox", "-f", str(conf))
        seconds += timed(lab, "lxc-start", "-P", tmp, "-n", "b")
        in_node(lab, "lxc-stop", "-P", tmp, "-n", "b", "-k")
        in_node(lab, "lxc-destroy", "-P", tmp, "-n", "b")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default=os.environ.get("TANDEM_LAB_NAME", "tandemb"))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    status = [f"{BIN}/tandem", "lab", "status", "--lab", args.lab]
    was_up = subprocess.run(status, capture_output=True, check=False).returncode == 0
    if not was_up:
        subprocess.run([f"{BIN}/tandem", "lab", "up", "--lab", args.lab], check=True,
                       capture_output=True)  # fmt: skip
    lab = Lab.open(args.lab)
    try:
        mount_vz(lab)
        built = timed(lab, "tandem", "template", "build", "busybox")
        print(f"busybox template built into the cache once: {built:.2f} s")
        rows = []
        for i in range(args.rounds):
            veid = str(101 + i)
            address = str(lab.spec.subnet.network_address + 80 + i)
            create = timed(lab, "tandem", "ve", "create", veid, "--ostemplate", "busybox",
                           "--config", "vps.256MB", "--ipadd", address)  # fmt: skip
            start = timed(lab, "tandem", "ve", "start", veid)
            ping = subprocess.run(["ping", "-c1", "-W2", address], capture_output=True, check=False)
            assert ping.returncode == 0, f"container {veid} does not answer at {address}"
            rows.append((create, start))
            print(f"round {i + 1}: create {create:.2f} s + start {start:.2f} s = "
                  f"{create + start:.2f} s (answers ping at {address})")  # fmt: skip
        for i in range(args.rounds):
            in_node(lab, "tandem", "ve", "stop", "--fast", str(101 + i))
            in_node(lab, "tandem", "ve", "destroy", str(101 + i))
        bare = statistics.median(baseline(lab) for _ in range(3))
        total = statistics.median(c + s for c, s in rows)
        print(f"median create {statistics.median(c for c, _ in rows):.2f} s, "
              f"start {statistics.median(s for _, s in rows):.2f} s, "
              f"create+start {total:.2f} s (limit {LIMIT:.0f} s): "
              f"{'PASS' if total < LIMIT else 'FAIL'}")  # fmt: skip
        print(f"baseline bare lxc-create -t busybox + lxc-start: {bare:.2f} s; "
              f"tandem/baseline = {total / bare:.1f}")  # fmt: skip
        if total >= LIMIT:
            raise SystemExit(1)
    finally:
        in_node(lab, "sh", "-c", "umount /vz/lxc/*/rootfs 2>/dev/null; umount /vz")
        if not was_up:
            subprocess.run([f"{BIN}/tandem", "lab", "down", "--lab", args.lab], check=False,
                           capture_output=True)  # fmt: skip


if __name__ == "__main__":
    main()
