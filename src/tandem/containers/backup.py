"""Backups of single containers and of the template cache (VE-5, seed 5.6).

A container backup is one gzip-compressed tar file in `/vz/backups/<active node>/`, named
`ve<ID>-<YYYYmmdd-HHMMSS>.tar.gz`:

    tandem-backup.json   the manifest: format, container, node, time, its definition
    actions.log          the container's action log, so its history is restored too
    root/...             every file of the container's disk (GNU tar: numeric owners,
                         extended attributes and ACLs kept, sparse files stay sparse)

Consistency: a running container is frozen (cgroup freezer) while its files are copied,
so the copy is the state of one instant, like a power cut (crash-consistent), and the
container keeps its processes and connections; it pauses for the length of the copy.
`--stop` stops it instead and starts it again afterwards: every service shut down
cleanly (application-consistent) at the price of a restart. A stopped container is
copied as it is.

A restore reads the whole archive once before it changes anything (the gzip checksum and
every tar header are checked, the manifest must be there first), then makes a new
container from it; a corrupt archive or a file that is not a backup is refused with
nothing changed.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from tandem.containers import actionlog, definition, image, locks, templates, validate
from tandem.containers.definition import Definition
from tandem.containers.errors import ContainerError, InvalidRequest
from tandem.containers.ids import parse_veid
from tandem.containers.manager import Containers
from tandem.containers.progress import Event, Report, quiet
from tandem.containers.units import human

FORMAT = "tandem-ve-backup"
VERSION = 1
MANIFEST = "tandem-backup.json"
ACTIONS = "actions.log"
ROOT = "root"
CHUNK = 1 << 20
TAR_OPTIONS = ["--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls"]
CACHE_FORMAT = "tandem-templatecache-backup"


@dataclass(frozen=True)
class Manifest:
    veid: int
    hostname: str
    node: str
    created: str
    consistency: str  # frozen, stopped or offline
    definition: Definition
    used_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "veid": self.veid,
            "hostname": self.hostname,
            "node": self.node,
            "created": self.created,
            "consistency": self.consistency,
            "used_bytes": self.used_bytes,
            "definition": definition.render(self.definition),
        }


def parse_manifest(data: bytes, source: str) -> Manifest:
    try:
        doc = json.loads(data)
    except ValueError:
        raise InvalidRequest(
            f"{source} is not a tandem backup (its manifest is not JSON)"
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InvalidRequest(f"{source} is not a tandem container backup (wrong manifest)")
    if doc.get("version") != VERSION:
        raise InvalidRequest(
            f"{source} is a backup of format version {doc.get('version')}; this tandem reads "
            f"version {VERSION}"
        )
    try:
        defn = definition.parse(str(doc["definition"]), f"{source}: definition")
        return Manifest(
            veid=int(doc["veid"]),
            hostname=str(doc["hostname"]),
            node=str(doc["node"]),
            created=str(doc["created"]),
            consistency=str(doc["consistency"]),
            definition=defn,
            used_bytes=int(doc["used_bytes"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidRequest(f"{source} has an incomplete manifest ({exc})") from None


# --- backing up ------------------------------------------------------------------------


def backup(
    containers: Containers, veid: int | str, stop: bool = False, report: Report = quiet
) -> Path:
    """Write a backup of container `veid`; returns the archive's path."""
    defn = containers.definition(veid)
    number = defn.veid
    containers.ready()
    facts = containers.facts
    folder = containers.layout.node_backups(facts.hostname)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = folder / f"ve{number}-{stamp}.tar.gz"
    partial = folder / f".{target.name}.partial"
    started = time.monotonic()
    with locks.container(number), _quiesced(containers, number, stop, report) as consistency:
        root = containers.layout.rootfs(number)
        st = os.statvfs(root)
        used = (st.f_blocks - st.f_bfree) * st.f_frsize
        manifest = Manifest(
            number, defn.hostname, facts.hostname, actionlog.now(), consistency, defn, used
        )
        try:
            _write_archive(containers, manifest, root, partial, report)
            partial.replace(target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    seconds = time.monotonic() - started
    containers.log(
        number,
        "backup",
        f"backed up to {target} ({human(target.stat().st_size)}, {consistency}) in {seconds:.1f} s",
    )
    return target


@contextlib.contextmanager
def _quiesced(containers: Containers, veid: int, stop: bool, report: Report) -> Iterator[str]:
    """The container's files held still for the copy: frozen, stopped, or not running."""
    lxc = containers.lxc
    state = lxc.state(veid)
    if state == "STOPPED":
        with containers.mounted(veid):
            yield "offline"
        return
    if stop:
        report(Event(f"stopping container {veid}"))
        lxc.stop(veid)
        try:
            with containers.mounted(veid):
                yield "stopped"
        finally:
            report(Event(f"starting container {veid} again"))
            containers.boot(containers.definition(veid), repair=containers.in_repair(veid))
        return
    report(Event(f"freezing container {veid} for the copy"))
    if state != "FROZEN":
        lxc.freeze(veid)
    try:
        yield "frozen"
    finally:
        if state != "FROZEN":
            lxc.unfreeze(veid)


def _member(name: str, data: bytes) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o644
    padding = (-len(data)) % tarfile.BLOCKSIZE
    return info.tobuf(format=tarfile.PAX_FORMAT) + data + b"\0" * padding


def _write_archive(
    containers: Containers, manifest: Manifest, root: Path, path: Path, report: Report
) -> None:
    argv = [
        "tar", "-C", str(root), "--create", "--file=-", *TAR_OPTIONS, "--sparse",
        "--one-file-system", r"--transform=s,^\.,root,S", ".",
    ]  # fmt: skip
    log = containers.layout.actions(manifest.veid)
    history = log.read_bytes() if log.exists() else b""
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6) as out:
        out.write(_member(MANIFEST, json.dumps(manifest.to_dict(), indent=2).encode()))
        out.write(_member(ACTIONS, history))
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        done = 0
        while chunk := proc.stdout.read(CHUNK):
            out.write(chunk)
            done += len(chunk)
            report(Event("copying files", done, max(done, manifest.used_bytes)))
        errors = proc.stderr.read().decode(errors="replace").strip()
        if proc.wait() != 0:
            raise ContainerError(f"copying the files of container {manifest.veid} failed: {errors}")
        raw.flush()
        os.fsync(raw.fileno())


# --- checking and restoring ------------------------------------------------------------


class _Counting(io.RawIOBase):
    """A file that tells how much of it has been read (for the progress of a pass)."""

    def __init__(self, f: IO[bytes], total: int, phase: str, report: Report) -> None:
        self.f, self.total, self.phase, self.report = f, total, phase, report
        self.done = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.f.read(len(buffer))
        buffer[: len(data)] = data
        self.done += len(data)
        self.report(Event(self.phase, self.done, self.total))
        return len(data)


@dataclass(frozen=True)
class Checked:
    manifest: Manifest
    history: bytes  # the action log saved with the backup


def check(archive: Path, report: Report = quiet) -> Checked:
    """Read the whole archive: the manifest first, every header and the gzip checksum; a
    corrupt archive or another kind of file raises InvalidRequest."""
    source = str(archive)
    if not archive.is_file():
        raise InvalidRequest(f"{archive} does not exist or is not a file")
    size = archive.stat().st_size
    with archive.open("rb") as f:
        if f.read(2) != b"\x1f\x8b":
            raise InvalidRequest(f"{source} is not a tandem backup (not a gzip-compressed archive)")
    manifest = None
    history = b""
    try:
        with archive.open("rb") as f:
            counting = io.BufferedReader(_Counting(f, size, "checking the archive", report))
            # gzip (not tarfile's own decompression) checks the CRC and length at the end;
            # tarfile stops at the tar end marker, so the rest is read out afterwards.
            unpacked = gzip.GzipFile(fileobj=counting, mode="rb")
            with tarfile.open(fileobj=unpacked, mode="r|") as tar:
                for number, member in enumerate(tar):
                    if number == 0:
                        if member.name != MANIFEST or not member.isfile():
                            raise InvalidRequest(
                                f"{source} is not a tandem backup (no manifest at its start)"
                            )
                        data = tar.extractfile(member)
                        assert data is not None
                        manifest = parse_manifest(data.read(), source)
                        continue
                    _check_member(member.name, source)
                    if member.name == ACTIONS and member.isfile():
                        data = tar.extractfile(member)
                        history = data.read() if data is not None else b""
            while unpacked.read(CHUNK):
                pass
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InvalidRequest(
            f"{source} is corrupt ({exc or exc.__class__.__name__}); it cannot be restored, "
            "use another backup"
        ) from None
    except OSError as exc:
        raise InvalidRequest(
            f"{source} is corrupt ({exc.strerror or exc}); it cannot be restored, use another "
            "backup"
        ) from None
    if manifest is None:
        raise InvalidRequest(f"{source} is not a tandem backup (it is empty)")
    return Checked(manifest, history)


def _check_member(name: str, source: str) -> None:
    parts = Path(name).parts
    if name == ACTIONS:
        return
    if not parts or parts[0] != ROOT or ".." in parts or name.startswith("/"):
        raise InvalidRequest(
            f"{source} is not a tandem backup (it holds {name!r} outside the container's files)"
        )


def restore(
    containers: Containers,
    archive: Path,
    as_veid: int | str | None = None,
    drop_ip: bool = False,
    report: Report = quiet,
) -> Definition:
    """A new container from a backup, as it was when the backup was made."""
    containers.ready()
    target = parse_veid(as_veid) if as_veid is not None else None
    checked = check(archive, report)
    manifest = checked.manifest
    number = target if target is not None else manifest.veid
    with locks.registry():
        if containers.exists(number):
            raise InvalidRequest(
                f"container ID {number} is in use; restore with --as and a free ID, or "
                f"destroy container {number} first"
            )
        defn = replace(manifest.definition, veid=number)
        if drop_ip:
            defn = replace(defn, addresses=())
        else:
            _check_addresses(containers, defn)
        with locks.container(number):
            _unpack(containers, defn, archive, checked.history, report)
    containers.log(
        number,
        "restore",
        f"restored from {archive} (backup of container {manifest.veid} made on "
        f"{manifest.node} at {manifest.created}, {manifest.consistency})",
    )
    return defn


def _check_addresses(containers: Containers, defn: Definition) -> None:
    facts = containers.facts
    for address in defn.addresses:
        try:
            validate.container_address(str(address), facts.network, facts.reserved)
            containers.check_addresses([str(address)], besides=defn.veid, probe=False)
        except InvalidRequest as exc:
            raise InvalidRequest(
                f"{exc}; or restore with --drop-ip and give the container an address later"
            ) from None


def _unpack(
    containers: Containers, defn: Definition, archive: Path, history: bytes, report: Report
) -> None:
    layout = containers.layout
    veid = defn.veid
    folder = layout.ve_dir(veid)
    folder.mkdir(parents=True)
    try:
        image.create(
            layout.image(veid), defn.resources.diskspace, defn.resources.diskinodes, f"ve{veid}"
        )
        with containers.mounted(veid) as root:
            argv = [
                "tar", "-C", str(root), "--extract", "--file=-", "--gzip", *TAR_OPTIONS,
                "--same-permissions", "--strip-components=1", ROOT,
            ]  # fmt: skip
            size = archive.stat().st_size
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
            assert proc.stdin is not None and proc.stderr is not None
            done = 0
            with archive.open("rb") as f:
                try:
                    while chunk := f.read(CHUNK):
                        proc.stdin.write(chunk)
                        done += len(chunk)
                        report(Event("restoring files", done, size))
                finally:
                    proc.stdin.close()
            errors = proc.stderr.read().decode(errors="replace").strip()
            if proc.wait() != 0:
                raise ContainerError(
                    f"restoring the files failed: {errors.splitlines()[-1] if errors else ''}; "
                    "the disk of the sample may be too small for this backup"
                )
            containers.write_runtime(defn, root, containers.external_interface())
        layout.actions(veid).write_bytes(history)
        definition.save(layout.definition(veid), defn)
    except BaseException:
        image.umount(layout.rootfs(veid))
        templates.remove_tree(folder)
        raise


@dataclass(frozen=True)
class BackupFile:
    path: Path
    veid: int | None
    node: str
    created: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "path": str(self.path)}


def listing(containers: Containers) -> list[BackupFile]:
    """The container backups under /vz/backups, newest first (manifests read, not data)."""
    found = []
    backups = containers.layout.backups
    if not backups.is_dir():
        return []
    for path in backups.glob("*/ve*.tar.gz"):
        veid, created = None, ""
        with contextlib.suppress(Exception), tarfile.open(path, mode="r|gz") as tar:
            member = tar.next()
            if member is not None and member.name == MANIFEST:
                data = tar.extractfile(member)
                doc = json.loads(data.read()) if data is not None else {}
                veid, created = int(doc["veid"]), str(doc["created"])
        found.append(BackupFile(path, veid, path.parent.name, created, path.stat().st_size))
    return sorted(found, key=lambda b: b.path.stat().st_mtime, reverse=True)


# --- the template cache ----------------------------------------------------------------


def backup_template_cache(containers: Containers, report: Report = quiet) -> Path:
    """One tar of the template cache in /vz/backups/templatecache (seed 5.6.2)."""
    containers.ready()
    layout = containers.layout
    files = sorted(p for p in layout.template_cache.iterdir() if p.is_file())
    if not files:
        raise ContainerError("the template cache is empty; build a template first")
    folder = layout.template_cache_backups
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"templatecache-{time.strftime('%Y%m%d-%H%M%S')}.tar"
    partial = folder / f".{target.name}.partial"
    total = sum(p.stat().st_size for p in files)
    manifest = {
        "format": CACHE_FORMAT,
        "version": VERSION,
        "node": containers.facts.hostname,
        "created": actionlog.now(),
        "templates": [t.to_dict() for t in templates.cached(layout)],
    }
    try:
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            data = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime = len(data), int(time.time())
            tar.addfile(info, io.BytesIO(data))
            done = 0
            for path in files:
                tar.add(path, arcname=path.name)
                done += path.stat().st_size
                report(Event("copying the template cache", done, total))
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target


def restore_template_cache(containers: Containers, archive: Path) -> list[str]:
    """Put the templates of a template cache backup back into the cache."""
    containers.ready()
    source = str(archive)
    try:
        with tarfile.open(archive, "r:") as tar:
            members = tar.getmembers()
            if not members or members[0].name != MANIFEST:
                raise InvalidRequest(f"{source} is not a template cache backup")
            head = tar.extractfile(members[0])
            doc = json.loads(head.read()) if head is not None else {}
            if doc.get("format") != CACHE_FORMAT:
                raise InvalidRequest(f"{source} is not a template cache backup")
            names = []
            for member in members[1:]:
                name = member.name
                if "/" in name or not member.isfile() or not name.endswith((".tar.gz", ".json")):
                    raise InvalidRequest(f"{source} holds {name!r}, which is not a template file")
                names.append(name)
            for member in members[1:]:
                data = tar.extractfile(member)
                assert data is not None
                target = containers.layout.template_cache / member.name
                partial = target.with_name(f".{target.name}.partial")
                with partial.open("wb") as out:
                    shutil.copyfileobj(data, out)
                partial.replace(target)
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise InvalidRequest(
            f"{source} is corrupt or not a template cache backup ({exc})"
        ) from None
    return sorted({n.removesuffix(".tar.gz").removesuffix(".json") for n in names})
