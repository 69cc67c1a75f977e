"""A container's definition: `/vz/lxc/<ID>/ve.conf`, the one file that says what it is.

It uses vzctl's keys (HOSTNAME, IP_ADDRESS, NAMESERVER, SEARCHDOMAIN, ONBOOT, OSTEMPLATE,
ORIGIN_SAMPLE) so the seed's operators recognise it. The LXC configuration beside it is
generated from it at every start (with the facts of the node that starts it), so the
definition is the only thing that must follow the active node, and it does, on /vz.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from tandem.containers import conffile, samples, validate
from tandem.containers.errors import InvalidRequest
from tandem.containers.ids import parse_veid
from tandem.containers.samples import Resources
from tandem.fsutil import atomic_write

KEYS = (
    "VEID",
    "HOSTNAME",
    "OSTEMPLATE",
    "ORIGIN_SAMPLE",
    "ONBOOT",
    "IP_ADDRESS",
    "NAMESERVER",
    "SEARCHDOMAIN",
    "CREATED",
    *(k for k in samples.KEYS if k != "DESCRIPTION"),
)
HEADER = """Container {veid}: its definition, on the replicated filesystem so it follows the
active node. Written by tandem (`tandem ve create`, `tandem ve set ... --save`); the LXC
config beside it is generated from this file at every start."""


@dataclass(frozen=True)
class Definition:
    veid: int
    hostname: str
    ostemplate: str
    sample: str
    resources: Resources
    onboot: bool = False
    addresses: tuple[IPv4Address, ...] = ()
    nameservers: tuple[IPv4Address, ...] = ()
    searchdomains: tuple[str, ...] = ()
    created: str = ""

    def to_values(self) -> dict[str, str]:
        return {
            "VEID": str(self.veid),
            "HOSTNAME": self.hostname,
            "OSTEMPLATE": self.ostemplate,
            "ORIGIN_SAMPLE": self.sample,
            "ONBOOT": "yes" if self.onboot else "no",
            "IP_ADDRESS": " ".join(str(a) for a in self.addresses),
            "NAMESERVER": " ".join(str(a) for a in self.nameservers),
            "SEARCHDOMAIN": " ".join(self.searchdomains),
            "CREATED": self.created,
            **self.resources.to_values(),
        }


def render(defn: Definition) -> str:
    return conffile.render(HEADER.format(veid=defn.veid), defn.to_values())


def parse(text: str, source: str) -> Definition:
    values = conffile.parse(text, source, KEYS)
    for key in ("VEID", "HOSTNAME", "OSTEMPLATE"):
        if key not in values:
            raise InvalidRequest(f"{source} lacks {key}; restore it from a backup")
    resources, _ = samples.parse_resources(values, source)
    onboot = values.get("ONBOOT", "no")
    if onboot not in ("yes", "no"):
        raise InvalidRequest(f'{source}: ONBOOT is {onboot!r}; write "yes" or "no"')
    return Definition(
        veid=parse_veid(values["VEID"]),
        hostname=validate.hostname(values["HOSTNAME"]),
        ostemplate=values["OSTEMPLATE"],
        sample=values.get("ORIGIN_SAMPLE", ""),
        resources=resources,
        onboot=onboot == "yes",
        addresses=tuple(validate.ipv4(a) for a in values.get("IP_ADDRESS", "").split()),
        nameservers=tuple(
            validate.ipv4(a, "name server") for a in values.get("NAMESERVER", "").split()
        ),
        searchdomains=tuple(validate.domain(d) for d in values.get("SEARCHDOMAIN", "").split()),
        created=values.get("CREATED", ""),
    )


def load(path: Path) -> Definition:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidRequest(f"{path} does not exist") from None
    return parse(text, str(path))


def save(path: Path, defn: Definition) -> None:
    atomic_write(path, render(defn))
