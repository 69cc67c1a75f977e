"""drbdlinks (DR-9, seed 2.4.2 Tabelle 2): files and folders that must live under /etc (or
elsewhere outside /vz) but follow the active node are kept under /vz/links and put in
place on the active node.

The seed's drbdlinks replaced them by symbolic links; tandem binds them (mount --bind),
which drbdlinks offers too (its bind-mount mode). A bind changes only this node's view:
the node's own file stays untouched underneath and comes back unchanged when the link is
taken down, nothing is renamed (so a crash half-way leaves nothing to repair), it works
for single files as well as folders, and programs that refuse symbolic links (or resolve
them and remember the /vz path) see an ordinary file. In the lab, where the nodes share
the host's root filesystem, it also cannot alter the host's /etc.

The list is `[containers] links` in cluster.toml; the default is /etc/lxc, LXC's system
configuration (lxcpath = /vz/lxc), so the operator's lxc-* commands on the active node
see the cluster's containers without -P.

First `up` of a path copies the node's current content into /vz/links as a start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tandem.containers.errors import InvalidRequest
from tandem.containers.layout import Layout, is_mountpoint
from tandem.fsutil import atomic_write
from tandem.system.run import run

LXC_CONF = """\
# LXC's system configuration on the tandem cluster: kept on /vz (/vz/links/etc/lxc) and
# bound over /etc/lxc on the active node by `tandem links up` (drbdlinks, DR-9).
lxc.lxcpath = /vz/lxc
"""
LXC_DEFAULT = """\
# Defaults for containers made by hand with lxc-create. tandem writes the configuration
# of its own containers itself (from /vz/lxc/<ID>/ve.conf, at every start).
lxc.net.0.type = empty
lxc.apparmor.profile = unconfined
"""


@dataclass(frozen=True)
class Link:
    path: Path  # where it is used
    target: Path  # where it lives, on /vz
    state: str  # up (bound), down, or missing (nothing on /vz yet)

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "target": str(self.target), "state": self.state}


def check(paths: Sequence[Path], layout: Layout) -> list[Path]:
    checked = []
    for path in paths:
        if not path.is_absolute() or path == Path("/") or ".." in path.parts:
            raise InvalidRequest(f"link {path} is not a plain absolute path")
        if path == layout.root or layout.root in path.parents:
            raise InvalidRequest(
                f"link {path} is on {layout.root} already; links are for files elsewhere"
            )
        checked.append(path)
    return checked


def target_of(layout: Layout, path: Path) -> Path:
    return layout.links / path.relative_to("/")


def prepare_lxc(layout: Layout) -> None:
    """tandem's own /etc/lxc content on /vz (written when missing, edits kept)."""
    folder = target_of(layout, Path("/etc/lxc"))
    for name, text in (("lxc.conf", LXC_CONF), ("default.conf", LXC_DEFAULT)):
        if not (folder / name).exists():
            atomic_write(folder / name, text)


def _bound(path: Path, target: Path) -> bool:
    if not path.exists() or not target.exists() or not is_mountpoint(path):
        return False
    a, b = path.stat(), target.stat()
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def status(layout: Layout, paths: Sequence[Path]) -> list[Link]:
    found = []
    for path in check(paths, layout):
        target = target_of(layout, path)
        state = "up" if _bound(path, target) else ("down" if target.exists() else "missing")
        found.append(Link(path, target, state))
    return found


def up(layout: Layout, paths: Sequence[Path]) -> list[Link]:
    """Put every link in place (on the node becoming active)."""
    layout.require_mounted()
    prepare_lxc(layout)
    for path in check(paths, layout):
        target = target_of(layout, path)
        if _bound(path, target):
            continue
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                run(["cp", "-a", "--no-target-directory", str(path), str(target)])
            else:
                target.mkdir()
        if not path.exists():
            if target.is_dir():
                path.mkdir(parents=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
        run(["mount", "--bind", str(target), str(path)])
    return status(layout, paths)


def down(layout: Layout, paths: Sequence[Path]) -> list[Link]:
    """Take every link away again (on the node giving up the service group)."""
    for path in reversed(check(paths, layout)):
        while _bound(path, target_of(layout, path)):
            run(["umount", str(path)])
    return status(layout, paths)
