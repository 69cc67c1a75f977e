"""`tandem lab`: the two-node cluster on this host, and faults on demand (LAB-1/2/3)."""

from __future__ import annotations

import os
import sys
import time
from ipaddress import IPv4Network
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tandem.cli.output import console, fail, print_json
from tandem.errors import TandemError
from tandem.lab.lab import InstallOptions, Lab, default_lab_name
from tandem.lab.topology import MACHINES, NODES, PATHS, MachineName, PathName

app = typer.Typer(
    help="A complete two-node cluster on this host: node1, node2, a router, a crossover "
    "link, a serial line, an external network; with faults on demand."
)

LabOpt = Annotated[
    str | None,
    typer.Option(
        "--lab", help="Name of the lab (tandem + up to 3 characters) [env: TANDEM_LAB_NAME]."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
NodeArg = Annotated[str, typer.Argument(help="node1 or node2.")]
PathsArg = Annotated[
    list[str], typer.Argument(help="One or more of serial, crossover, external, ping, peer.")
]


def _node(name: str) -> MachineName:
    if name not in NODES:
        fail(f"unknown node {name!r}; one of {', '.join(NODES)}", 2)
    return name


def _path(name: str) -> PathName:
    if name not in PATHS:
        fail(f"unknown path {name!r}; one of {', '.join(PATHS)}", 2)
    return name


def _tandem() -> str:
    return str(Path(sys.executable).parent / "tandem")


@app.command()
def up(
    lab: LabOpt = None,
    subnet: Annotated[
        str | None, typer.Option(help="External network of the lab [default: 10.77.0.0/24].")
    ] = None,
    demo: Annotated[bool, typer.Option(help="Print the operator's guide afterwards.")] = False,
    witness: Annotated[
        bool, typer.Option(help="Run the witness in the router namespace (HB-6).")
    ] = True,
    external_heartbeat: Annotated[
        bool, typer.Option(help="Heartbeat on the external network too (HB-1).")
    ] = True,
    serial_heartbeat: Annotated[
        bool, typer.Option(help="Heartbeat on the serial line too (HB-1).")
    ] = True,
    profile: Annotated[str, typer.Option(help="Timing profile: fast or seed (HB-2).")] = "fast",
    as_json: JsonOpt = False,
) -> None:
    """Build the lab and boot both nodes; says so if it is up already."""
    try:
        net = IPv4Network(subnet) if subnet else None
    except ValueError as exc:
        fail(f"--subnet: {exc}", 2)
    if profile not in ("fast", "seed"):
        fail(f"--profile {profile!r}: choose fast or seed", 2)
    result = Lab.up(
        lab, net, InstallOptions(witness, external_heartbeat, serial_heartbeat, profile)
    )
    status = result.lab.status()
    if as_json:
        print_json({"already": result.already, "seconds": result.seconds, **status})
        return
    if result.cleaned:
        console.print(f"cleaned up {len(result.cleaned)} leftovers of an earlier lab")
    if result.already:
        console.print(f"lab {status['name']} is up already; nothing to do")
    else:
        console.print(f"lab {status['name']} is up (took {result.seconds:.1f} s)")
    if demo:
        from tandem.lab.demo import provision

        if not result.already:
            console.print("setting up the replicated volume and container 101 (first start)...")
        try:
            status["demo"] = provision(result.lab)
        except TandemError as exc:
            fail(f"the demo's first installation failed: {exc}")
        _print_guide(status)
    else:
        _print_status(status)


@app.command()
def down(lab: LabOpt = None) -> None:
    """Stop every machine and remove everything the lab made; works after crashes too."""
    result = Lab.down(lab)
    name = lab or default_lab_name()
    console.print(f"lab {name} is down (took {result.seconds:.1f} s); nothing left behind")


@app.command()
def status(lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Machines, their addresses and which paths are cut."""
    info = Lab.open(lab).status()
    if as_json:
        print_json(info)
    else:
        _print_status(info)


@app.command(
    "exec",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def exec_(
    machine: Annotated[str, typer.Argument(help="node1, node2 or router.")],
    command: Annotated[
        list[str] | None, typer.Argument(help="Command to run [default: bash].")
    ] = None,
    lab: LabOpt = None,
) -> None:
    """Run a command inside a machine (all its namespaces), e.g. `lab exec node1 -- hostname`."""
    if machine not in MACHINES:
        fail(f"unknown machine {machine!r}; one of {', '.join(MACHINES)}", 2)
    the_lab = Lab.open(lab)
    argv = the_lab.exec_argv(machine, list(command or []))
    sys.stdout.flush()
    os.execvpe(argv[0], argv, the_lab.exec_env())


@app.command()
def cut(node: NodeArg, paths: PathsArg, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Cut paths of a node, totally and at once (they stay cut across crash and boot)."""
    _set_cut(node, paths, lab, as_json, cut=True)


@app.command()
def heal(node: NodeArg, paths: PathsArg, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Heal paths that were cut."""
    _set_cut(node, paths, lab, as_json, cut=False)


def _set_cut(node: str, paths: list[str], lab: str | None, as_json: bool, cut: bool) -> None:
    chosen = [_path(p) for p in paths]
    at = Lab.open(lab).set_cut(_node(node), chosen, cut)
    if as_json:
        print_json({"node": node, "paths": chosen, "cut": cut, "at": at})
    else:
        console.print(f"{node} {' '.join(chosen)}: {'cut' if cut else 'healed'}")


@app.command()
def crash(node: NodeArg, lab: LabOpt = None) -> None:
    """Kill every process of a node at once (its containers too); mounts torn down unclean."""
    seconds = Lab.open(lab).crash(_node(node))
    console.print(f"{node} crashed: every process killed at once (took {seconds * 1000:.0f} ms)")


@app.command("power-cut")
def power_cut(
    nodes: Annotated[list[str], typer.Argument(help="node1, node2 or both (at once).")],
    lab: LabOpt = None,
) -> None:
    """Cut the power: the node dies at once (as crash) and its disk loses what it had not
    flushed (fsync); `boot` starts it again on what the disk kept."""
    chosen = [_node(n) for n in nodes]
    seconds = Lab.open(lab).power_cut(chosen)
    console.print(
        f"{' and '.join(chosen)}: power cut, unflushed writes lost (took {seconds * 1000:.0f} ms)"
    )


@app.command("fail-disk")
def fail_disk(node: NodeArg, lab: LabOpt = None) -> None:
    """The node's disk (/var/lib/tandem) answers EIO to every read, write and fsync; the
    node keeps running."""
    Lab.open(lab).set_disk_failed(_node(node), True)
    console.print(f"{node}: disk failed, every request gets EIO")


@app.command("heal-disk")
def heal_disk(node: NodeArg, lab: LabOpt = None) -> None:
    """The node's disk works again, with the contents and cache it had."""
    Lab.open(lab).set_disk_failed(_node(node), False)
    console.print(f"{node}: disk healed")


@app.command()
def boot(node: NodeArg, lab: LabOpt = None) -> None:
    """Start a node again, as after a power cycle."""
    seconds = Lab.open(lab).boot(_node(node))
    console.print(f"{node} booted (took {seconds:.1f} s)")


def _print_status(info: dict[str, Any]) -> None:
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["created"]))
    console.print(
        f"lab {info['name']}: external network {info['subnet']}, up since {since}, "
        f"keeper pid {info['keeper_pid']}",
        markup=False,
    )
    machines = info["machines"]
    table = Table("MACHINE", "STATE", "PID", "EXTERNAL", "CROSSOVER")
    for name, m in machines.items():
        state = "[green]on[/]" if m["state"] == "on" else "[red]off[/]"
        table.add_row(name, state, str(m["pid"] or "-"), m["external"], m.get("crossover", "-"))
    console.print(table)
    paths = Table("PATH", *NODES)
    for p in PATHS:
        paths.add_row(p, *[_path_cell(machines[n]["paths"][p]) for n in NODES])
    console.print(paths)
    disks = Table("DISK /var/lib/tandem", *NODES)
    columns = [_disk_rows(machines[n]["disk"]) for n in NODES]
    for i, label in enumerate(DISK_ROWS):
        disks.add_row(label, *[column[i] for column in columns])
    console.print(disks)
    admin = info["admin"]
    console.print(
        f"this host is the administrator's PC: {admin['interface']} {admin['address']}",
        markup=False,
    )


DISK_ROWS = ("state", "unflushed data", "unflushed names", "flushed", "power cuts")


def _disk_rows(d: dict[str, Any]) -> list[str]:
    """One cell per DISK_ROWS: what a node's disk holds that a power cut would lose."""
    state = {"ok": "[green]ok[/]", "failed": "[red]failed (EIO)[/]"}.get(d["state"], "[red]down[/]")
    if d["state"] not in ("ok", "failed"):
        return [state] + ["-"] * (len(DISK_ROWS) - 1)
    return [
        state,
        f"{d['dirty_bytes'] / 1024:.0f} KiB in {d['dirty_files']} files",
        f"{d['pending_ops']} changes",
        f"{d['fsyncs']} fsyncs, {d['flushed_bytes'] / 1024:.0f} KiB",
        str(d["power_cuts"]),
    ]


def _path_cell(state: str) -> str:
    return "[red]cut[/]" if state == "cut" else "[green]up[/]"


def _demo_lines(info: dict[str, Any], t: str) -> list[str]:
    demo = info.get("demo")
    if not demo:
        return []
    return [
        f"[bold]The service group[/] (active on node1: volume, /vz, container {demo['container']})",
        f"  curl {demo['url']}        container {demo['container']}'s web server",
        f"  {t} lab exec node1 -- tandem crm status",
        f"  {t} lab exec node1 -- tandem switchover",
        f"  {t} lab crash node1                   node2 takes over within seconds",
        "",
    ]


def _print_guide(info: dict[str, Any]) -> None:
    _print_status(info)
    t = _tandem()
    m = info["machines"]
    login = info["login"]
    console.print(
        "\n".join(
            [
                "",
                "[bold]Your two-node cluster[/]",
                f"  node1   external {m['node1']['external']}, crossover {m['node1']['crossover']}",
                f"  node2   external {m['node2']['external']}, crossover {m['node2']['crossover']}",
                f"  router  {m['router']['external']} (gateway and ping node)",
                f"  serial  {info['serial']['device']} on each node, joined by a null-modem line",
                "",
                "[bold]Cluster Management (web), from this host's browser[/]",
                f"  node1   https://{m['node1']['external']}/",
                f"  node2   https://{m['node2']['external']}/",
                f"  login   {login['user']} / {login['password']}",
                "  (the certificate is the cluster's own, self-signed: accept it once per node)",
                "",
                *_demo_lines(info, t),
                "[bold]Reach a node[/]",
                f"  {t} lab exec node1 -- bash            a shell on node1",
                f"  {t} lab exec node1 -- tandem node status",
                f"  ping {m['node1']['external']}                  from this host",
                "",
                "[bold]Faults[/]",
                f"  {t} lab cut node1 crossover      (serial, crossover, external, ping, peer)",
                f"  {t} lab heal node1 crossover",
                f"  {t} lab crash node1  /  {t} lab boot node1",
                f"  {t} lab power-cut node1      (loses what its disk had not flushed)",
                f"  {t} lab fail-disk node1  /  {t} lab heal-disk node1",
                "",
                "[bold]Stop it[/]",
                f"  make demo-down   (or {t} lab down)",
            ]
        ),
        soft_wrap=True,
    )
