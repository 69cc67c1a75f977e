"""The lab's shape as plain data: machines, links, addresses and names (LAB-1).

```
   host (administrator's PC)  <lab>-adm  10.77.0.100
              |
   +----------|------------------ router namespace -------------------------+
   |  [sw1] --adm, n1, up1        [rtr] 10.77.0.1 (gateway, ping node)       |
   |  [sw2] --n2, up2             r1 <-> up1 (sw1),  r2 <-> up2 (sw2)        |
   +-------|---------------------------------------------|------------------+
           | eth0 10.77.0.11                             | eth0 10.77.0.12
        [node1] eth1 192.168.255.1 ==crossover== eth1 192.168.255.2 [node2]
           /dev/ttyS0  ~~~~~~~~~ serial null-modem (pty relay) ~~~~~~~  /dev/ttyS0
```

Two switches joined by the router, as in the seed's figure 2: each node hangs off its own
switch, and the router is the ping node and gateway. Every name on the host starts with the
lab's name, which starts with "tandem", so a sweep can find whatever a crash left behind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Literal

from tandem.errors import LabError

MachineName = Literal["router", "node1", "node2"]
# "peer": the external network between the two nodes only (each still reaches the router,
# the witness and the administrator): with serial and crossover, every heartbeat path
# between the nodes is cut while the service address stays visible from outside.
PathName = Literal["serial", "crossover", "external", "ping", "peer"]
NODES: tuple[MachineName, MachineName] = ("node1", "node2")
MACHINES: tuple[MachineName, ...] = ("router", "node1", "node2")
PATHS: tuple[PathName, ...] = ("serial", "crossover", "external", "ping", "peer")

LAB_ROOT = Path("/var/lib/tandem-lab")
LAB_RUN = Path("/run/tandem-lab")
NAME_PATTERN = re.compile(r"^tandem[a-z0-9]{0,3}$")

EXTERNAL_IF = "eth0"
CROSSOVER_IF = "eth1"
ROUTER_BRIDGE = "rtr"
ROUTER_MAC = "02:74:64:00:00:01"
CROSSOVER_NET = IPv4Network("192.168.255.0/24")
SERIAL_DEVICE = Path("/dev/ttyS0")


@dataclass(frozen=True)
class LabSpec:
    """Everything about one lab that does not change while it is up."""

    name: str = "tandem"
    subnet: IPv4Network = field(default_factory=lambda: IPv4Network("10.77.0.0/24"))

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise LabError(
                f"lab name {self.name!r} is not allowed: it must be 'tandem' followed by at "
                "most three lower-case letters or digits, so every host-side name stays "
                "recognisable and within the kernel's 15 characters"
            )
        if self.subnet.prefixlen > 24:
            raise LabError(f"lab subnet {self.subnet} is too small; give a /24 or larger")

    @property
    def root(self) -> Path:
        return LAB_ROOT / self.name

    @property
    def run_dir(self) -> Path:
        return LAB_RUN / self.name

    @property
    def keeper_socket(self) -> Path:
        return self.run_dir / "keeper.sock"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"

    @property
    def host_if(self) -> str:
        return f"{self.name}-adm"

    def _host(self, n: int) -> IPv4Address:
        return self.subnet.network_address + n

    @property
    def router_ip(self) -> IPv4Address:
        return self._host(1)

    @property
    def admin_ip(self) -> IPv4Address:
        return self._host(100)

    def external_ip(self, node: MachineName) -> IPv4Address:
        return self._host(11 if node == "node1" else 12)

    def crossover_ip(self, node: MachineName) -> IPv4Address:
        return CROSSOVER_NET.network_address + (1 if node == "node1" else 2)

    def switch_of(self, node: MachineName) -> str:
        return "sw1" if node == "node1" else "sw2"

    def router_port(self, node: MachineName) -> str:
        """The switch port (in the router's namespace) that node's external cable plugs in."""
        return "n1" if node == "node1" else "n2"

    def machine_dir(self, machine: MachineName) -> Path:
        return self.root / machine

    def disk_store(self, node: MachineName) -> Path:
        """What the node's /var/lib/tandem holds durably (tandem.lab.disk)."""
        return self.machine_dir(node) / "var-lib-tandem"

    def disk_mount(self, node: MachineName) -> Path:
        """Where the node's disk is mounted on the host: its volatile cache over disk_store."""
        return self.run_dir / "disks" / node

    def disk_socket(self, node: MachineName) -> Path:
        return self.run_dir / f"disk-{node}.sock"

    def node_binds(self, node: MachineName) -> list[tuple[Path, Path]]:
        """(source on the host, target in the node): the node's own disk, at production paths."""
        base = self.machine_dir(node)
        return [
            (base / "etc-tandem", Path("/etc/tandem")),
            (self.disk_mount(node), Path("/var/lib/tandem")),
            (base / "var-log-tandem", Path("/var/log/tandem")),
            (base / "vz", Path("/vz")),
            (self.root / "hosts", Path("/etc/hosts")),
        ]

    def hosts_file(self) -> str:
        lines = ["127.0.0.1 localhost", f"{self.router_ip} router"]
        for node in NODES:
            lines.append(f"{self.external_ip(node)} {node}")
            lines.append(f"{self.crossover_ip(node)} {node}-crossover")
        lines.append(f"{self.admin_ip} admin")
        return "\n".join(lines) + "\n"
