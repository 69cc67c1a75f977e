"""The cluster configuration, /etc/tandem/cluster.toml, as pydantic models.

Every field carries a description: `tandem init` writes it as the comment above the key,
and `tandem config check` quotes it as "what would be valid". One model therefore serves
the file, the checker, the command line and (later) the web forms.

Type checks live here; checks that relate several keys (the same address on both nodes,
deadtime against keepalive) live in `rules.py`, where each finding can name its key.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from tandem.config.sizes import Size
from tandem.config.timing import PROFILES, ProfileName, Timing

IPv4 = Annotated[IPv4Address, Field(strict=False)]
Hostname = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"),
]
Seconds = Annotated[float, Field(gt=0, le=3600)]
NodeId = Literal["node1", "node2"]
NODE_IDS: tuple[NodeId, NodeId] = ("node1", "node2")


class Section(BaseModel):
    """Strict by default: TOML has types, so "443" for a port is a mistake, not a number."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ClusterSection(Section):
    name: Annotated[
        str,
        StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,31}$"),
        Field(
            description="Name of the cluster: lower-case letters, digits and '-', "
            "up to 32 characters; it names the configuration bundle."
        ),
    ] = "tandem"


class NodeSection(Section):
    hostname: Annotated[
        Hostname,
        Field(
            description="Host name of this node (what `uname -n` prints); a node finds "
            "its own section by it."
        ),
    ]
    crossover: Annotated[
        IPv4,
        Field(
            description="Address on the internal crossover link (heartbeat, replication, "
            "configuration sync), an IPv4 address like 192.168.255.1."
        ),
    ]
    external: Annotated[
        IPv4,
        Field(
            description="Address on the external network (heartbeat, web management), "
            "an IPv4 address like 10.0.0.11."
        ),
    ]


class NetworkSection(Section):
    netmask: Annotated[
        IPv4,
        Field(description="Netmask of the external network, like 255.255.255.0."),
    ] = IPv4Address("255.255.255.0")
    gateway: Annotated[
        IPv4 | None,
        Field(description="Default gateway on the external network, an IPv4 address."),
    ] = None
    dns_servers: Annotated[
        list[IPv4],
        Field(max_length=2, description="DNS servers 1 and 2, a list of IPv4 addresses."),
    ] = []
    dns_search: Annotated[
        list[Hostname | Annotated[str, StringConstraints(pattern=r"^[a-z0-9.-]+$")]],
        Field(description='DNS search path, a list of domains like ["example.com"].'),
    ] = []
    crossover_netmask: Annotated[
        IPv4,
        Field(description="Netmask of the crossover link, like 255.255.255.0."),
    ] = IPv4Address("255.255.255.0")


class SerialPath(Section):
    enabled: Annotated[
        bool,
        Field(
            description="Heartbeat over the serial null-modem line; switch it off when "
            "the nodes stand in different rooms (seed 5.1.1 Netzwerk)."
        ),
    ] = True
    device: Annotated[
        Path,
        Field(strict=False, description="Serial device, like /dev/ttyS0."),
    ] = Path("/dev/ttyS0")
    baud: Annotated[
        Literal[9600, 19200, 38400, 57600, 115200],
        Field(description="Baud rate: 9600, 19200, 38400, 57600 or 115200."),
    ] = 115200


class CrossoverPath(Section):
    enabled: Annotated[
        Literal[True],
        Field(
            description="Heartbeat over the crossover link; always on, because the link "
            "also carries the replication."
        ),
    ] = True


class ExternalPath(Section):
    enabled: Annotated[
        bool,
        Field(
            description="Heartbeat over the external network; switch it off when policy "
            "forbids cluster traffic there (seed 5.1.1 Netzwerk)."
        ),
    ] = True


class HeartbeatSection(Section):
    profile: Annotated[
        ProfileName,
        Field(
            description='Timing profile: "fast" (keepalive 0.2 s, deadtime 2 s) or '
            '"seed" (keepalive 5 s, deadtime 60 s, as Heartbeat 1.2 in the seed).'
        ),
    ] = "fast"
    keepalive: Annotated[
        Seconds | None,
        Field(description="Seconds between heartbeats on each path (overrides the profile)."),
    ] = None
    warntime: Annotated[
        Seconds | None,
        Field(description="Seconds of silence after which a late heartbeat is warned about."),
    ] = None
    deadtime: Annotated[
        Seconds | None,
        Field(
            description="Seconds of silence on every path after which the peer is dead; "
            "at least two keepalives."
        ),
    ] = None
    initdead: Annotated[
        Seconds | None,
        Field(
            description="Seconds a booting node waits for its peer before declaring it "
            "dead; at least the deadtime."
        ),
    ] = None
    port: Annotated[
        int,
        Field(ge=1, le=65535, description="UDP port for heartbeats (Heartbeat used 694)."),
    ] = 694
    serial: SerialPath = SerialPath()
    crossover: CrossoverPath = CrossoverPath()
    external: ExternalPath = ExternalPath()

    def timing(self) -> Timing:
        """The profile's values with the operator's overrides applied."""
        base = PROFILES[self.profile]
        return Timing(
            keepalive=self.keepalive if self.keepalive is not None else base.keepalive,
            warntime=self.warntime if self.warntime is not None else base.warntime,
            deadtime=self.deadtime if self.deadtime is not None else base.deadtime,
            initdead=self.initdead if self.initdead is not None else base.initdead,
            ping_interval=base.ping_interval,
        )


class PingSection(Section):
    nodes: Annotated[
        list[IPv4],
        Field(
            description="Ping nodes (HB-4): the active node keeps the services while it "
            "reaches at least one; usually the router."
        ),
    ] = []
    interval: Annotated[
        Seconds | None,
        Field(description="Seconds between pings to each ping node (overrides the profile)."),
    ] = None


class QuorumSection(Section):
    witness: Annotated[
        IPv4 | None,
        Field(
            description="Address of the witness on a third host (`tandem witness run`): "
            "its vote decides a partition (HB-6). Without one, only fencing allows a takeover."
        ),
    ] = None
    witness_port: Annotated[
        int,
        Field(ge=1, le=65535, description="UDP port of the witness (corosync's qnetd used 5403)."),
    ] = 5403
    stop_budget: Annotated[
        Seconds | None,
        Field(
            description="Seconds the services get to stop when this node loses the right to "
            "run them, before the node resets itself (default: half the deadtime)."
        ),
    ] = None


class VolumeSection(Section):
    size: Annotated[
        Size,
        Field(
            ge=64 * 1024**2,
            description='Size of the replicated volume under /vz, like "20GiB" (at least 64MiB).',
        ),
    ] = 8 * 1024**3
    protocol: Annotated[
        Literal["A", "B", "C"],
        Field(
            description="Replication protocol as DRBD defines it: C waits for the peer's "
            "disk (default), B for the peer's memory, A for the local send buffer."
        ),
    ] = "C"
    resync_rate: Annotated[
        Size,
        Field(ge=1024**2, description='Resync limit in bytes per second, like "100MiB".'),
    ] = 100 * 1024**2
    port: Annotated[
        int,
        Field(ge=1, le=65535, description="TCP port of the replication link (DRBD used 7789)."),
    ] = 7789
    encrypt: Annotated[
        bool,
        Field(description="Wrap the replication link in TLS with the cluster certificate."),
    ] = False
    timeout: Annotated[
        Seconds,
        Field(
            description="Seconds the peer may leave a write unanswered before the link is "
            "dropped; the Primary then writes on alone once the peer is known Outdated."
        ),
    ] = 5.0


class WebSection(Section):
    port: Annotated[
        int,
        Field(ge=1, le=65535, description="HTTPS port of the Cluster Management."),
    ] = 443
    languages: Annotated[
        list[Literal["de", "en"]],
        Field(min_length=1, description='Languages offered: "de" and/or "en".'),
    ] = ["de", "en"]
    default_language: Annotated[
        Literal["de", "en"],
        Field(description="Language shown before an operator chooses one."),
    ] = "de"


# What an operator chooses to be mailed about (NT-1): the groups of event kinds that
# tandem.notify.kinds sorts the event log into. A name, not the event log's own kinds,
# because those are many and technical ("self-fence", "resource") and grow over time.
EVENT_KINDS = ("failover", "updates", "paths", "replication", "containers", "hardware",
               "disks", "other")  # fmt: skip


def _event_kind(value: str) -> str:
    if value not in EVENT_KINDS:
        raise ValueError(f'unknown kind of event "{value}"; the kinds are {", ".join(EVENT_KINDS)}')
    return value


def _once_each(values: list[str]) -> list[str]:
    twice = sorted({v for v in values if values.count(v) > 1})
    if twice:
        raise ValueError(f"{', '.join(twice)} listed more than once; name each kind once")
    return values


EventKind = Annotated[str, AfterValidator(_event_kind)]


class NotificationSection(Section):
    address: Annotated[
        list[Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]],
        Field(description="E-mail addresses that receive notifications."),
    ] = []
    relay_host: Annotated[
        str | None,
        Field(description="Mail relay host; without one, mail goes to the recipient's MX."),
    ] = None
    relay_port: Annotated[
        int,
        Field(ge=1, le=65535, description="TCP port of the mail relay host."),
    ] = 25
    language: Annotated[
        Literal["de", "en"],
        Field(description='Language of the mails: "de" or "en".'),
    ] = "de"
    events: Annotated[
        list[EventKind],
        AfterValidator(_once_each),
        Field(
            description='Which events are mailed (NT-1), a list of kinds: "failover" (failover '
            'and switchover, the group started or stopped, fencing), "updates" (security '
            'updates available, updates installed), "paths" (a heartbeat path lost or back), '
            '"replication", "containers", "hardware" (power supplies, fans, temperatures), '
            '"disks" (SMART, RAID) and "other" (remote support, anything else); default all. '
            "The event log keeps every event; those of kinds not listed are not mailed."
        ),
    ] = list(EVENT_KINDS)
    sender: Annotated[
        Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$")] | None,
        Field(description="Sender address of the mails (default: tandem@ the node's host name)."),
    ] = None
    relay_user: Annotated[
        str | None,
        Field(
            description="User name for the relay's authentication (SMTP AUTH); the password "
            "is the file /etc/tandem/secrets/smtp.password."
        ),
    ] = None
    relay_tls: Annotated[
        Literal["auto", "starttls", "tls", "off"],
        Field(
            description='Encryption to the relay: "auto" (STARTTLS when offered), "starttls" '
            '(required), "tls" (TLS from the start, port 465) or "off".'
        ),
    ] = "auto"
    relay_ca: Annotated[
        Path | None,
        Field(
            strict=False,
            description="CA certificate (PEM) that signed the relay's certificate, when it is "
            "not one the system trusts.",
        ),
    ] = None


class SupportSection(Section):
    host: Annotated[
        str | None,
        Field(
            description="Support host that `tandem support on` opens an outgoing SSH tunnel "
            "to (OP-7); without one, remote support cannot be switched on."
        ),
    ] = None
    user: Annotated[
        str,
        Field(
            pattern=r"^[a-z_][a-z0-9_.-]{0,31}$",
            description="User on the support host; its authorized_keys holds the cluster's "
            "support key (`tandem support status` prints it).",
        ),
    ] = "support"
    port: Annotated[
        int,
        Field(ge=1, le=65535, description="SSH port of the support host."),
    ] = 22
    remote_port: Annotated[
        int,
        Field(
            ge=1024,
            le=65534,
            description="Port on the support host that leads back to node1's SSH; node2's "
            "tunnel uses the next port.",
        ),
    ] = 22022
    local_port: Annotated[
        int,
        Field(ge=1, le=65535, description="Port of the node's own SSH server on 127.0.0.1."),
    ] = 22


def _link_path(value: Path) -> Path:
    if not value.is_absolute() or value == Path("/") or ".." in value.parts:
        raise ValueError("a link is an absolute path of a file or folder, like /etc/lxc")
    if value == Path("/vz") or Path("/vz") in value.parents:
        raise ValueError("a link is for a path outside /vz; what is on /vz follows anyway")
    return value


LinkPath = Annotated[Path, Field(strict=False), AfterValidator(_link_path)]


class ContainersSection(Section):
    links: Annotated[
        list[LinkPath],
        Field(
            description="drbdlinks (DR-9): files and folders outside /vz that must follow "
            "the active node; kept under /vz/links and bound over these paths on the active "
            'node, like ["/etc/lxc"].'
        ),
    ] = [Path("/etc/lxc")]


class FailoverSection(Section):
    fencing: Annotated[
        Literal["none", "lab", "ipmi"],
        Field(
            description='How a node proves its peer is off: "ipmi" (power off through the '
            'peer\'s BMC with ipmitool), "lab" (the lab\'s power switch) or "none" (rely on '
            "the witness and self-fencing; without a witness, no automatic takeover)."
        ),
    ] = "none"
    lab_keeper: Annotated[
        Path | None,
        Field(strict=False, description="The lab's power switch (its keeper socket); lab only."),
    ] = None
    ipmi_node1: Annotated[
        str | None, Field(description="BMC address of node1 (fencing = ipmi).")
    ] = None
    ipmi_node2: Annotated[
        str | None, Field(description="BMC address of node2 (fencing = ipmi).")
    ] = None
    ipmi_user: Annotated[str, Field(description="BMC user for ipmitool.")] = "ADMIN"
    ipmi_password_file: Annotated[
        Path,
        Field(strict=False, description="File with the BMC password (mode 0600)."),
    ] = Path("/etc/tandem/secrets/ipmi-password")
    restarts: Annotated[
        int,
        Field(
            ge=0,
            le=100,
            description="A failed container is restarted in place this many times within "
            "`restart_window` before the group moves to the other node.",
        ),
    ] = 3
    restart_window: Annotated[
        Seconds,
        Field(description="Seconds over which container restarts are counted."),
    ] = 300.0


class ClusterConfig(Section):
    """The whole of cluster.toml; the same file on both nodes."""

    cluster: ClusterSection = ClusterSection()
    node1: NodeSection
    node2: NodeSection
    network: NetworkSection = NetworkSection()
    heartbeat: HeartbeatSection = HeartbeatSection()
    ping: PingSection = PingSection()
    quorum: QuorumSection = QuorumSection()
    volume: VolumeSection = VolumeSection()
    web: WebSection = WebSection()
    notification: NotificationSection = NotificationSection()
    containers: ContainersSection = ContainersSection()
    support: SupportSection = SupportSection()
    failover: FailoverSection = FailoverSection()

    def node(self, node_id: NodeId) -> NodeSection:
        return self.node1 if node_id == "node1" else self.node2

    def node_by_hostname(self, hostname: str) -> NodeId | None:
        """Which node this is, found by host name as Heartbeat's `node` lines were."""
        for node_id in NODE_IDS:
            if self.node(node_id).hostname == hostname:
                return node_id
        return None

    def ping_interval(self) -> float:
        if self.ping.interval is not None:
            return self.ping.interval
        return self.heartbeat.timing().ping_interval


def peer_of(node_id: NodeId) -> NodeId:
    return "node2" if node_id == "node1" else "node1"
