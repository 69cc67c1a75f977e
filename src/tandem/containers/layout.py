"""Where everything of the containers area lives on /vz.

```
/vz/lxc/<ID>/ve.conf          the definition (vzctl keys)            definition.py
/vz/lxc/<ID>/config           LXC config, generated at every start   lxcconf.py
/vz/lxc/<ID>/hook             LXC network hook, generated likewise   lxcconf.py
/vz/lxc/<ID>/root.ext4        the container's disk: an ext4 image    image.py
/vz/lxc/<ID>/rootfs/          where that image is mounted            image.py
/vz/lxc/<ID>/actions.log      the action log (VE-7)                  actionlog.py
/vz/lxc/<ID>/lxc.log, console.log   LXC's own log, the console output
/vz/template/cache/           OS templates as archives (VE-4)        templates.py
/vz/samples/                  resource samples (VE-3)                samples.py
/vz/backups/<node>/           container backups (VE-5)               backup.py
/vz/backups/templatecache/    template cache backups                 backup.py
/vz/links/                    what drbdlinks-style links point at    links.py
```

/vz/lxc is LXC's lxcpath, so `lxc-ls -P /vz/lxc` and the other lxc-* tools work on the
same containers. The root is a parameter so that unit tests can use a temporary folder;
the product always uses /vz.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tandem import paths
from tandem.containers.errors import ContainerError
from tandem.fsutil import mountpoints


@dataclass(frozen=True)
class Layout:
    root: Path = paths.VZ_DIR

    @property
    def lxcpath(self) -> Path:
        return self.root / "lxc"

    def ve_dir(self, veid: int) -> Path:
        return self.lxcpath / str(veid)

    def definition(self, veid: int) -> Path:
        return self.ve_dir(veid) / "ve.conf"

    def lxc_config(self, veid: int) -> Path:
        return self.ve_dir(veid) / "config"

    def hook(self, veid: int) -> Path:
        return self.ve_dir(veid) / "hook"

    def image(self, veid: int) -> Path:
        return self.ve_dir(veid) / "root.ext4"

    def rootfs(self, veid: int) -> Path:
        return self.ve_dir(veid) / "rootfs"

    def rescue(self, veid: int) -> Path:
        return self.ve_dir(veid) / "rescue"

    def actions(self, veid: int) -> Path:
        return self.ve_dir(veid) / "actions.log"

    def limits_state(self, veid: int) -> Path:
        return self.ve_dir(veid) / "limits.json"

    def lxc_log(self, veid: int) -> Path:
        return self.ve_dir(veid) / "lxc.log"

    def console_log(self, veid: int) -> Path:
        return self.ve_dir(veid) / "console.log"

    @property
    def template_cache(self) -> Path:
        return self.root / "template" / "cache"

    @property
    def template_build(self) -> Path:
        return self.root / "template" / "build"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def backups(self) -> Path:
        return self.root / "backups"

    def node_backups(self, hostname: str) -> Path:
        return self.backups / hostname

    @property
    def template_cache_backups(self) -> Path:
        return self.backups / "templatecache"

    @property
    def links(self) -> Path:
        return self.root / "links"

    def veids(self) -> list[int]:
        """IDs of the containers defined on /vz, in order."""
        if not self.lxcpath.is_dir():
            return []
        found = []
        for entry in self.lxcpath.iterdir():
            if entry.name.isdigit() and (entry / "ve.conf").is_file():
                found.append(int(entry.name))
        return sorted(found)

    def require_mounted(self) -> None:
        """Refuse to work on a /vz that is not mounted: the containers would be written to
        the node's own disk and be missing after a failover."""
        if not is_mountpoint(self.root):
            raise ContainerError(
                f"{self.root} is not mounted; containers live on the replicated volume, so "
                f"make this node active (or mount {self.root}) before managing containers"
            )

    def ensure(self) -> None:
        for directory in (self.lxcpath, self.template_cache, self.samples, self.backups):
            directory.mkdir(parents=True, exist_ok=True)


def is_mountpoint(path: Path) -> bool:
    return path.resolve() in mountpoints()
