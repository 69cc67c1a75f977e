"""The LXC configuration of a container, generated from its definition at every start.

Generated rather than kept, because part of it belongs to the node that starts the
container, not to the container: the cgroup names (cgroup v1 has no namespaces, so both
lab nodes share one hierarchy and each node's containers get their own folder), whether
the kernel speaks cgroup v1 or v2, and the node's external interface. The definition on
/vz stays node-neutral, so the container can start on either node.

Networking is routed (LXC's veth "router" mode), like the seed's Virtuozzo venet: the
container's addresses are /32 on its eth0, the node routes them to the container's veth
and answers ARP for them on its external interface (a proxy-ARP entry per address, set
by the hook below while the container runs). The node's own network stays untouched, the
addresses work with whatever the external interface is (plain, bond, VLAN), and moving a
container to the other node is: start it there and announce its addresses with
gratuitous ARP (network.announce) so switches and routers update their caches (CM-3).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from tandem.containers.cgroups import INNER, CgroupSystem, limit_settings
from tandem.containers.definition import Definition
from tandem.containers.host import NodeFacts
from tandem.containers.layout import Layout
from tandem.containers.samples import Resources


@dataclass(frozen=True)
class Signals:
    """How the template's init is asked to halt and reboot (busybox and systemd differ)."""

    halt: str = "SIGUSR1"
    reboot: str = "SIGTERM"


def host_interface(veid: int) -> str:
    """Name of the container's veth end on the node (at most 12 of the kernel's 15)."""
    return f"ve{veid}"


def limit_keys(resources: Resources, system: CgroupSystem) -> list[tuple[str, str]]:
    """The LXC keys that set the cgroup limits (cgroups.limit_settings) at start."""
    prefix = "lxc.cgroup" if system.version == 1 else "lxc.cgroup2"
    return [(f"{prefix}.{name}", value) for name, value in limit_settings(resources, system)]


# The devices a container may use (LXC's common.conf): none but the harmless character
# devices and its own ptys; it may create device nodes but not open a disk of the node.
DEVICES = (
    "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 5:0 rwm", "c 5:1 rwm",
    "c 5:2 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 136:* rwm", "c 10:229 rwm",
)  # fmt: skip
SECCOMP = Path("/usr/share/lxc/config/common.seccomp")


def device_keys(system: CgroupSystem) -> list[tuple[str, str]]:
    prefix = "lxc.cgroup" if system.version == 1 else "lxc.cgroup2"
    return [(f"{prefix}.devices.deny", "a"), *((f"{prefix}.devices.allow", d) for d in DEVICES)]


def render(
    defn: Definition,
    facts: NodeFacts,
    system: CgroupSystem,
    layout: Layout,
    signals: Signals,
    repair: bool = False,
    seccomp: Path | None = None,
) -> str:
    veid = defn.veid
    group = facts.cgroup_group
    rootfs = layout.rescue(veid) if repair else layout.rootfs(veid)
    keys: list[tuple[str, str]] = [
        ("lxc.uts.name", defn.hostname),
        ("lxc.rootfs.path", f"dir:{rootfs}"),
        ("lxc.signal.halt", signals.halt),
        ("lxc.signal.reboot", signals.reboot),
        ("lxc.autodev", "1"),
        ("lxc.tty.max", "1"),
        ("lxc.pty.max", "64"),
        ("lxc.cap.drop", "sys_module mac_admin mac_override sys_time sys_rawio"),
        ("lxc.apparmor.profile", "unconfined"),
        ("lxc.mount.auto", "cgroup:mixed proc:mixed sys:mixed"),
        ("lxc.mount.entry", "tmpfs dev/shm tmpfs rw,nosuid,nodev,create=dir 0 0"),
        ("lxc.cgroup.dir.container", f"{group}/ve{veid}"),
        ("lxc.cgroup.dir.monitor", f"{group}/ve{veid}.monitor"),
        ("lxc.cgroup.dir.monitor.pivot", f"{group}/pivot"),
        ("lxc.cgroup.dir.container.inner", INNER),
        *limit_keys(defn.resources, system),
        *device_keys(system),
    ]
    if seccomp is not None:  # LXC's profile: no kernel modules, kexec, open_by_handle_at
        keys.append(("lxc.seccomp.profile", str(seccomp)))
    if repair:
        keys.append(("lxc.mount.entry", f"{layout.rootfs(veid)} repair none bind,create=dir 0 0"))
    if defn.addresses:
        keys += [
            ("lxc.net.0.type", "veth"),
            ("lxc.net.0.veth.mode", "router"),
            ("lxc.net.0.veth.pair", host_interface(veid)),
            ("lxc.net.0.name", "eth0"),
            ("lxc.net.0.flags", "up"),
            *(("lxc.net.0.ipv4.address", f"{a}/32") for a in defn.addresses),
            ("lxc.net.0.ipv4.gateway", str(facts.gateway) if facts.gateway else "dev"),
        ]
    else:
        keys.append(("lxc.net.0.type", "empty"))
    hook = str(layout.hook(veid))
    keys += [
        ("lxc.hook.start-host", hook),
        ("lxc.hook.post-stop", hook),
        ("lxc.log.file", str(layout.lxc_log(veid))),
        ("lxc.log.level", "WARN"),
        ("lxc.console.logfile", str(layout.console_log(veid))),
    ]
    header = [
        f"# LXC config of container {veid}, generated by tandem from ve.conf when the",
        f"# container was last started (on {facts.hostname}). Do not edit: change the",
        "# container with `tandem ve set ... --save`; this file is rewritten at every start.",
    ]
    return "\n".join([*header, *(f"{k} = {v}" for k, v in keys)]) + "\n"


def render_hook(veid: int, addresses: tuple[IPv4Address, ...], external_if: str) -> str:
    """The shell hook LXC runs on the node as the container's network comes and goes:
    proxy-ARP entries on the external interface for the container's addresses, so the
    external network reaches them through this node, and no waiting on proxied ARP."""
    veth = host_interface(veid)
    ext = shlex.quote(external_if)
    up = [
        f"echo 0 > /proc/sys/net/ipv4/neigh/{ext}/proxy_delay",
        f"echo 0 > /proc/sys/net/ipv4/neigh/{veth}/proxy_delay 2>/dev/null",
        *(f"ip neigh replace proxy {a} dev {ext}" for a in addresses),
    ]
    down = [f"ip neigh del proxy {a} dev {ext} 2>/dev/null" for a in addresses]
    return (
        "\n".join(
            [
                "#!/bin/sh",
                f"# Network hook of container {veid}, generated by tandem at every start; LXC",
                "# runs it on the node (lxc.hook.start-host and lxc.hook.post-stop).",
                'case "$3" in',
                "start-host)",
                *(f"    {line}" for line in up),
                "    ;;",
                "post-stop)",
                *(f"    {line}" for line in down),
                "    ;;",
                "esac",
                "exit 0",
            ]
        )
        + "\n"
    )
