"""OS templates and the template cache (VE-4, seed 5.4).

A template is built once into `/vz/template/cache/<name>.tar.gz` (a GNU tar of its root
filesystem, numeric owners, extended attributes kept, so file capabilities such as ping's
survive) with `<name>.json` beside it (when and from what it was built). New
containers are unpacked from the cache, so creating one needs no network and takes well
under a second. Templates:

- `busybox`: offline, from the node's static busybox (busybox.py);
- `debian-11`, `debian-12`, `debian-13`: debootstrap from the configured mirror.

The cache is on /vz, so both nodes share it; `tandem template-cache backup` saves it to
/vz/backups/templatecache (seed 5.6.2).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tandem.containers import busybox, debootstrap, locks
from tandem.containers.errors import ContainerError, InvalidRequest
from tandem.containers.layout import Layout
from tandem.containers.progress import Event, Report, quiet
from tandem.fsutil import mountpoints
from tandem.system.run import CommandFailed, run

ARCHIVE = ".tar.gz"
META = ".json"
TAR_OPTIONS = ["--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls"]
BUILDABLE = ("busybox", *(f"debian-{v}" for v in debootstrap.SUITES))


@dataclass(frozen=True)
class Template:
    name: str
    built: str
    source: str
    size: int  # bytes of the archive
    sha256: str
    seconds: float = 0.0  # how long the build took

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def archive_path(layout: Layout, name: str) -> Path:
    return layout.template_cache / f"{name}{ARCHIVE}"


def meta_path(layout: Layout, name: str) -> Path:
    return layout.template_cache / f"{name}{META}"


def cached(layout: Layout) -> list[Template]:
    found: list[Template] = []
    if not layout.template_cache.is_dir():
        return found
    for meta in sorted(layout.template_cache.glob(f"*{META}")):
        name = meta.name.removesuffix(META)
        if archive_path(layout, name).is_file():
            found.append(_read_meta(meta))
    return found


def _read_meta(path: Path) -> Template:
    try:
        data = json.loads(path.read_text())
        return Template(**data)
    except (OSError, ValueError, TypeError) as exc:
        raise ContainerError(
            f"{path} is damaged ({exc}); rebuild the template with `tandem template build`"
        ) from None


def check_name(name: str) -> str:
    if name not in BUILDABLE:
        raise InvalidRequest(f"unknown template {name!r}; the templates are {', '.join(BUILDABLE)}")
    return name


def require(layout: Layout, name: str) -> None:
    """Refuse a template that is neither cached nor (for busybox) quick to build."""
    if archive_path(layout, name).is_file() and meta_path(layout, name).is_file():
        return
    if name == "busybox":
        return
    if name not in BUILDABLE:
        have = ", ".join(t.name for t in cached(layout)) or "none yet"
        raise InvalidRequest(
            f"unknown template {name!r}; cached templates: {have}; buildable with "
            f"`tandem template build`: {', '.join(BUILDABLE)}"
        )
    raise InvalidRequest(
        f"template {name} is not in the template cache yet; build it first with "
        f"`tandem template build {name}`"
    )


def get(layout: Layout, name: str) -> Template:
    """The cached template `name`; busybox is built on demand (offline, quick), other
    templates must be built first, as the seed's templates had to be installed."""
    require(layout, name)
    if archive_path(layout, name).is_file() and meta_path(layout, name).is_file():
        return _read_meta(meta_path(layout, name))
    return build(layout, name)


def build(
    layout: Layout,
    name: str,
    report: Report = quiet,
    mirror: str | None = None,
    force: bool = False,
) -> Template:
    """Build `name` into the cache (replacing an older build only with `force`)."""
    check_name(name)
    with locks.template(name):
        if not force and meta_path(layout, name).is_file() and archive_path(layout, name).is_file():
            return _read_meta(meta_path(layout, name))
        layout.template_build.mkdir(parents=True, exist_ok=True)
        layout.template_cache.mkdir(parents=True, exist_ok=True)
        work = layout.template_build / f"{name}.{os.getpid()}"
        root = work / "root"
        started = time.monotonic()
        try:
            root.mkdir(parents=True)
            if name == "busybox":
                report(Event("writing the busybox system"))
                busybox.build(root)
                source = f"{busybox.BUSYBOX} ({_busybox_version()})"
            else:
                mirror = mirror or debootstrap.configured_mirror()
                debootstrap.build(root, name, mirror, report)
                source = f"debootstrap {debootstrap.suite_of(name)} from {mirror}"
            report(Event("packing the template"))
            tmp = work / f"{name}{ARCHIVE}"
            run(["tar", "-C", str(root), *TAR_OPTIONS, "-czf", str(tmp), "."], timeout=3600)
            template = Template(
                name=name,
                built=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                source=source,
                size=tmp.stat().st_size,
                sha256=_sha256(tmp),
                seconds=round(time.monotonic() - started, 1),
            )
            tmp.replace(archive_path(layout, name))
            meta_path(layout, name).write_text(json.dumps(template.to_dict(), indent=2) + "\n")
        finally:
            remove_tree(work)
        report(Event(f"template {name} built in {template.seconds:.1f} s"))
        return template


def remove(layout: Layout, name: str) -> None:
    if not archive_path(layout, name).exists() and not meta_path(layout, name).exists():
        have = ", ".join(t.name for t in cached(layout)) or "none"
        raise InvalidRequest(f"template {name!r} is not in the template cache (cached: {have})")
    with locks.template(name):
        archive_path(layout, name).unlink(missing_ok=True)
        meta_path(layout, name).unlink(missing_ok=True)


def extract(layout: Layout, name: str, target: Path) -> None:
    """Unpack cached template `name` into the directory `target`."""
    archive = archive_path(layout, name)
    try:
        run(["tar", "-C", str(target), *TAR_OPTIONS, "-xzf", str(archive)], timeout=3600)
    except CommandFailed as exc:
        last = exc.stderr.splitlines()[-1] if exc.stderr else str(exc)
        if "No space left" in exc.stderr:
            raise ContainerError(
                f"template {name} does not fit on the container's disk ({last}); choose a "
                "sample with more DISKSPACE or DISKINODES"
            ) from None
        raise ContainerError(
            f"template {name} in the cache cannot be unpacked ({last}); rebuild it with "
            f"`tandem template build {name} --force`"
        ) from None


def remove_tree(path: Path) -> None:
    """rm -rf that never follows into a mount below `path` (debootstrap mounts /proc and
    /sys in its target and can leave them behind when it fails)."""
    if not path.exists():
        return
    inside = sorted(
        (m for m in mountpoints() if m == path or path in m.parents),
        key=lambda m: -len(m.parts),
    )
    for mount in inside:
        run(["umount", "-l", str(mount)], check=False)
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _busybox_version() -> str:
    out = subprocess.run([str(busybox.BUSYBOX)], capture_output=True, text=True, check=False)
    first = (out.stdout or out.stderr).splitlines()[:1]
    return first[0].split(" multi-call")[0] if first else "busybox"
