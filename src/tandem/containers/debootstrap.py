"""The Debian OS templates: built with debootstrap from the node's configured Debian mirror.

The mirror is the first plain Debian archive (not security, updates or backports) in the
node's APT sources, deb822 (`/etc/apt/sources.list.d/*.sources`) or one-line format, so a
cluster behind a local mirror or proxy builds from there without extra settings; the
`http_proxy` of the environment is honoured by debootstrap as usual.

minbase plus systemd as init, iproute2, ping, procps and netbase: a small system that
boots in a container and can install whatever else with apt.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tandem.containers.errors import ContainerError
from tandem.containers.progress import Event, Report

SUITES = {"11": "bullseye", "12": "bookworm", "13": "trixie"}
INCLUDE = ("systemd-sysv", "iproute2", "iputils-ping", "procps", "netbase", "ca-certificates")
APT_DIR = Path("/etc/apt")


def suite_of(template: str) -> str:
    """debian-12 -> bookworm."""
    version = template.removeprefix("debian-")
    if version not in SUITES:
        raise ContainerError(f"no Debian release {version}; known: {', '.join(SUITES)}")
    return SUITES[version]


def _deb822_entries(text: str) -> Iterator[tuple[list[str], list[str], list[str]]]:
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0].isspace() and key is not None:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if fields.get("enabled", "yes").lower() == "no":
            continue
        yield (
            fields.get("types", "").split(),
            fields.get("uris", "").split(),
            fields.get("suites", "").split(),
        )


def _one_line_entries(text: str) -> Iterator[tuple[list[str], list[str], list[str]]]:
    for raw in text.splitlines():
        words = re.sub(r"\[[^]]*\]", "", raw.split("#", 1)[0]).split()
        if len(words) >= 3:
            yield [words[0]], [words[1]], [words[2]]


def configured_mirror(apt_dir: Path = APT_DIR) -> str:
    """The node's Debian mirror, as APT is configured to use it."""
    sources: list[tuple[list[str], list[str], list[str]]] = []
    one_line = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in one_line:
        if path.is_file():
            sources += _one_line_entries(path.read_text())
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        sources += _deb822_entries(path.read_text())
    for types, uris, suites in sources:
        if "deb" not in types:
            continue
        for uri in uris:
            if "security" in uri:
                continue
            if any(s in SUITES.values() for s in suites):
                return uri.rstrip("/")
    raise ContainerError(
        f"no Debian mirror is configured in {apt_dir}; add one to the APT sources or give "
        "one with --mirror"
    )


def build(root: Path, template: str, mirror: str, report: Report) -> None:
    """debootstrap into `root`, streaming its progress; then make it container-ready."""
    suite = suite_of(template)
    argv = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(INCLUDE)}",
        suite,
        str(root),
        mirror,
    ]
    report(Event(f"debootstrap {suite} from {mirror}"))
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    assert proc.stdout is not None
    tail: list[str] = []
    for count, line in enumerate(proc.stdout, start=1):
        text = line.strip()
        tail = [*tail[-9:], text]
        report(Event(text, done=count))
    if proc.wait() != 0:
        raise ContainerError(
            f"debootstrap of {suite} from {mirror} failed (exit {proc.returncode}): "
            f"{' | '.join(tail[-3:])}"
        )
    _prepare(root)


def _prepare(root: Path) -> None:
    """What a system container needs different from a freshly bootstrapped disk: no host
    name or machine id of its own yet (each container gets its own at first boot), no
    package cache, and no units that manage hardware a container does not have."""
    (root / "etc/hostname").write_text("")
    (root / "etc/machine-id").write_text("")
    (root / "etc/resolv.conf").unlink(missing_ok=True)
    (root / "etc/resolv.conf").write_text("")
    for deb in (root / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    units = root / "etc/systemd/system"
    units.mkdir(parents=True, exist_ok=True)
    for unit in (
        "systemd-udevd.service",
        "systemd-modules-load.service",
        "sys-kernel-config.mount",
    ):
        mask = units / unit
        if not mask.exists():
            mask.symlink_to("/dev/null")
