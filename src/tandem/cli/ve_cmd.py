"""`tandem ve`: containers, the way vzctl and vzlist worked in the seed (VE-2, VE-5, VE-7).

tandem ve create 102 --ostemplate busybox --config vps.512MB --hostname vps102.example.com
tandem ve set 102 --onboot yes --ipadd 10.0.0.104 --nameserver 10.0.0.1 --save
tandem ve start 102
tandem ve enter 102
tandem ve list -a
"""

from __future__ import annotations

import subprocess
import sys
from typing import Annotated, Any

import typer

from tandem.cli.output import console, err_console, fail, print_json
from tandem.cli.progress import reporter
from tandem.containers.manager import Changes, Containers, Info, Status
from tandem.containers.units import human

app = typer.Typer(
    help="Containers (VEs): create, configure, start, stop, enter, back up, repair, list.",
    no_args_is_help=True,
)

IdArg = Annotated[str, typer.Argument(metavar="ID", help="Container ID, 100 or more (e.g. 101).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _yes_no(value: str | None, option: str) -> bool | None:
    if value is None:
        return None
    if value not in ("yes", "no"):
        fail(f"{option} takes yes or no, not {value!r}", 2)
    return value == "yes"


@app.command()
def create(
    veid: IdArg,
    ostemplate: Annotated[str, typer.Option("--ostemplate", help="OS template, e.g. busybox.")],
    config: Annotated[str, typer.Option("--config", help="Resource sample, e.g. vps.256MB.")],
    hostname: Annotated[
        str | None, typer.Option(help="Host name, e.g. vps101.example.com.")
    ] = None,
    ipadd: Annotated[
        list[str] | None, typer.Option(help="Address on the external network.")
    ] = None,
    nameserver: Annotated[
        list[str] | None, typer.Option(help="DNS server [default: the cluster's].")
    ] = None,
    searchdomain: Annotated[
        list[str] | None, typer.Option(help="DNS search domain [default: the cluster's].")
    ] = None,
    onboot: Annotated[str | None, typer.Option(help="yes: start with the service group.")] = None,
) -> None:
    """Create a stopped container from a cached OS template with a sample's limits."""
    containers = Containers()
    console.print(f"Creating container {veid} from template {ostemplate} (sample {config})")
    defn = containers.create(
        veid,
        ostemplate,
        config,
        hostname=hostname,
        addresses=ipadd or (),
        nameservers=nameserver,
        searchdomains=searchdomain,
        onboot=bool(_yes_no(onboot, "--onboot")),
    )
    console.print(
        f"Container {defn.veid} created: {defn.hostname}, {defn.resources.summary()}",
        markup=False,
    )


@app.command("set")
def set_(
    veid: IdArg,
    onboot: Annotated[str | None, typer.Option(help="yes or no.")] = None,
    ipadd: Annotated[list[str] | None, typer.Option(help="Add an address (repeatable).")] = None,
    ipdel: Annotated[
        list[str] | None, typer.Option(help="Remove an address, or all (repeatable).")
    ] = None,
    nameserver: Annotated[list[str] | None, typer.Option(help="DNS servers (replaces).")] = None,
    searchdomain: Annotated[
        list[str] | None, typer.Option(help="DNS search domains (replaces).")
    ] = None,
    hostname: Annotated[str | None, typer.Option(help="Host name.")] = None,
    memory: Annotated[
        str | None, typer.Option(help="Memory limit, e.g. 512M, or unlimited.")
    ] = None,
    numproc: Annotated[str | None, typer.Option(help="Process limit, or unlimited.")] = None,
    cpuunits: Annotated[str | None, typer.Option(help="CPU weight (1000 is normal).")] = None,
    cpulimit: Annotated[
        str | None, typer.Option(help="CPU limit in % of one CPU; 0: none.")
    ] = None,
    diskspace: Annotated[str | None, typer.Option(help="Disk size, e.g. 4G.")] = None,
    diskinodes: Annotated[str | None, typer.Option(help="Inode limit (fixed at creation).")] = None,
    save: Annotated[
        bool, typer.Option("--save", help="Keep the change in the definition.")
    ] = False,
) -> None:
    """Change a container: applied at once if it runs, kept with --save (as vzctl set)."""
    changes = Changes(
        onboot=_yes_no(onboot, "--onboot"),
        hostname=hostname,
        ipadd=tuple(ipadd or ()),
        ipdel=tuple(ipdel or ()),
        nameservers=None if nameserver is None else tuple(nameserver),
        searchdomains=None if searchdomain is None else tuple(searchdomain),
        memory=memory,
        numproc=numproc,
        cpuunits=cpuunits,
        cpulimit=cpulimit,
        diskspace=diskspace,
        diskinodes=diskinodes,
    )
    for sentence in Containers().set(veid, changes, save):
        console.print(sentence[0].upper() + sentence[1:], markup=False)
    if not save:
        console.print("Not saved: the change lasts until the container stops (add --save)")


@app.command()
def start(veid: IdArg) -> None:
    """Start a container (its disk is mounted, its addresses announced)."""
    containers = Containers()
    console.print(f"Starting container {veid} ...")
    seconds = containers.start(veid)
    defn = containers.definition(veid)
    addresses = ", ".join(str(a) for a in defn.addresses) or "no address"
    console.print(
        f"Container {defn.veid} is running ({addresses}, {defn.hostname}); took {seconds:.1f} s",
        markup=False,
    )


@app.command()
def stop(
    veid: IdArg,
    fast: Annotated[bool, typer.Option("--fast", help="Kill at once, no clean halt.")] = False,
) -> None:
    """Stop a container: its init halts (killed after 30 s), its disk is unmounted."""
    console.print(f"Stopping container {veid} ...")
    seconds = Containers().stop(veid, fast=fast)
    console.print(f"Container {veid} was stopped; took {seconds:.1f} s")


@app.command()
def restart(veid: IdArg) -> None:
    """Stop (if running) and start a container."""
    seconds = Containers().restart(veid)
    console.print(f"Container {veid} was restarted; took {seconds:.1f} s")


@app.command()
def destroy(veid: IdArg) -> None:
    """Remove a stopped container with its disk and logs (back it up first!)."""
    Containers().destroy(veid)
    console.print(f"Container {veid} was destroyed")


@app.command()
def enter(veid: IdArg) -> None:
    """An interactive root shell inside a running container."""
    argv = Containers().exec_argv(veid, [])
    err_console.print(f"entered into container {veid}")
    code = subprocess.run(argv, check=False).returncode
    err_console.print(f"exited from container {veid}")
    raise typer.Exit(code)


@app.command(
    "exec",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def exec_(
    veid: IdArg,
    command: Annotated[list[str], typer.Argument(help="The command, after --.")],
) -> None:
    """Run a command inside a running container: `tandem ve exec 101 -- hostname`."""
    containers = Containers()
    argv = containers.exec_argv(veid, command)
    sys.stdout.flush()
    code = subprocess.run(argv, check=False).returncode
    defn = containers.definition(veid)
    containers.log(defn.veid, "exec", f"{' '.join(command)} (exit {code})")
    containers.observe(defn)
    raise typer.Exit(code)


@app.command()
def status(veid: IdArg, as_json: JsonOpt = False) -> None:
    """State, addresses, limits, usage and the limits the container ran into."""
    result = Containers().status(veid)
    if as_json:
        print_json(result.to_dict())
        return
    _print_status(result)


@app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("-a", "--all", help="Stopped containers too.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The containers, as vzlist showed them: VEID NPROC STATUS IP_ADDR HOSTNAME."""
    infos = Containers().listing(include_stopped=all_)
    if as_json:
        print_json([i.to_dict() for i in infos])
        return
    console.print(_vzlist(infos), markup=False, highlight=False)


def _vzlist(infos: list[Info]) -> str:
    lines = [f"{'VEID':>10} {'NPROC':>10} {'STATUS':<8} {'IP_ADDR':<15} HOSTNAME"]
    for i in infos:
        nproc = "-" if i.nproc is None else str(i.nproc)
        address = str(i.addresses[0]) if i.addresses else "-"
        lines.append(f"{i.veid:>10} {nproc:>10} {i.state:<8} {address:<15} {i.hostname}")
        lines += [f"{'':>10} {'':>10} {'':<8} {a!s:<15}" for a in i.addresses[1:]]
    return "\n".join(lines)


def _print_status(s: Status) -> None:
    d, i = s.definition, s.info
    limits = d.resources
    rows: list[tuple[str, Any]] = [
        ("container", f"{d.veid} ({d.hostname})"),
        ("status", i.state + (f", {i.nproc} processes" if i.nproc is not None else "")),
        ("onboot", "yes" if d.onboot else "no"),
        ("addresses", ", ".join(str(a) for a in d.addresses) or "-"),
        ("nameservers", ", ".join(str(a) for a in d.nameservers) or "-"),
        ("searchdomains", " ".join(d.searchdomains) or "-"),
        ("template", d.ostemplate),
        ("sample", d.sample),
        ("limits", limits.summary()),
    ]
    if s.usage is not None:
        u = s.usage
        memory = "-" if u.memory is None else human(u.memory)
        rows.append(("memory", f"{memory} of {_limit(u.memory_limit)}"))
        rows.append(("processes", f"{u.tasks} of {u.tasks_limit or 'unlimited'}"))
        rows.append(("cpu time", f"{u.cpu_seconds or 0:.1f} s"))
    if s.disk is not None:
        rows.append(("disk", f"{human(s.disk.used)} of {human(s.disk.total)}"))
        rows.append(("inodes", f"{s.disk.inodes_used} of {s.disk.inodes_total}"))
    if s.counters is not None:
        c = s.counters
        rows.append(
            (
                "limit hits",
                f"memory {c.memory_limit_hits} (OOM kills {c.memory_oom_kills}), "
                f"processes {c.numproc_refusals}, CPU throttled {c.cpu_throttled}",
            )
        )
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        console.print(f"{key:<{width}}  {value}", markup=False)
    if s.limit_events:
        console.print("limits reached (action log):", markup=False)
        for e in s.limit_events:
            console.print(f"  {e.time} {e.node}: {e.message}", markup=False)


def _limit(value: int | None) -> str:
    return "unlimited" if value is None else human(value)


# --- backup and restore (VE-5) -----------------------------------------------------------


@app.command()
def backup(
    veid: IdArg,
    stop_it: Annotated[
        bool,
        typer.Option("--stop", help="Stop the container for the copy (default: freeze it)."),
    ] = False,
) -> None:
    """Back a container up to /vz/backups/<this node>/ (frozen or stopped for the copy)."""
    from tandem.containers import backup as backups

    with reporter() as report:
        path = backups.backup(Containers(), veid, stop=stop_it, report=report)
    console.print(
        f"Container {veid} backed up to {path} ({human(path.stat().st_size)})", markup=False
    )


@app.command()
def restore(
    archive: Annotated[str, typer.Argument(help="A backup made by `tandem ve backup`.")],
    as_: Annotated[
        str | None, typer.Option("--as", help="Restore under another ID [default: the backup's].")
    ] = None,
    drop_ip: Annotated[
        bool, typer.Option("--drop-ip", help="Leave the backup's addresses out.")
    ] = False,
) -> None:
    """Make a container from a backup, exactly as it was (the archive is checked first)."""
    from pathlib import Path

    from tandem.containers import backup as backups

    with reporter() as report:
        defn = backups.restore(Containers(), Path(archive), as_, drop_ip=drop_ip, report=report)
    console.print(f"Container {defn.veid} restored from {archive} (stopped)", markup=False)


@app.command()
def backups(as_json: JsonOpt = False) -> None:
    """The container backups in /vz/backups, newest first."""
    from tandem.containers import backup as backups_

    found = backups_.listing(Containers())
    if as_json:
        print_json([b.to_dict() for b in found])
        return
    console.print(f"{'VEID':>10}  {'NODE':<10} {'CREATED':<21} {'SIZE':>10}  FILE", markup=False)
    for b in found:
        veid = "?" if b.veid is None else str(b.veid)
        console.print(
            f"{veid:>10}  {b.node:<10} {b.created:<21} {human(b.size):>10}  {b.path}", markup=False
        )


# --- panel functions (VE-7) --------------------------------------------------------------


@app.command()
def services(veid: IdArg, as_json: JsonOpt = False) -> None:
    """The services inside a running container and whether each runs."""
    from tandem.containers import panel

    found = panel.services(Containers(), veid)
    if as_json:
        print_json([s.to_dict() for s in found])
        return
    for s in found:
        console.print(f"{s.name:<32} {s.state:<9} {s.description}", markup=False)


@app.command()
def service(
    veid: IdArg,
    name: Annotated[str, typer.Argument(help="A service, as `ve services` lists it.")],
    action: Annotated[str, typer.Argument(help="start, stop or restart.")] = "restart",
) -> None:
    """Start, stop or restart a service inside a container."""
    from tandem.containers import panel

    console.print(panel.service_action(Containers(), veid, name, action), markup=False)


@app.command()
def usage(veid: IdArg, as_json: JsonOpt = False) -> None:
    """Resource usage: CPU, memory, processes, disk and inodes against the limits."""
    from tandem.containers import panel

    u = panel.usage(Containers(), veid)
    if as_json:
        print_json(u.to_dict())
        return
    rows = [
        ("status", u.state),
        ("cpu", "-" if u.cpu_percent is None else f"{u.cpu_percent}% of one CPU now, "
         f"{u.cpu_seconds:.1f} s in all"),
        ("memory", f"{_opt(u.memory)} of {_limit(u.memory_limit)}"),
        ("processes", f"{'-' if u.tasks is None else u.tasks} of {u.tasks_limit or 'unlimited'}"),
        ("disk", f"{_opt(u.disk_used)} of {_opt(u.disk_total)}"),
        ("inodes", f"{u.inodes_used} of {u.inodes_total}"),
    ]  # fmt: skip
    for key, value in rows:
        console.print(f"{key:<10} {value}", markup=False)


def _opt(value: int | None) -> str:
    return "-" if value is None else human(value)


@app.command()
def log(
    veid: IdArg,
    last: Annotated[int, typer.Option(help="Show the last N entries (0: all).")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The container's action log: what was done to it and which limits it ran into."""
    from tandem.containers import actionlog

    containers = Containers()
    defn = containers.definition(veid)
    entries = actionlog.read(containers.layout.actions(defn.veid), last or None)
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    for e in entries:
        console.print(e.line(), markup=False)


repair_app = typer.Typer(help="Repair mode: a rescue system with the container's disk at /repair.")
app.add_typer(repair_app, name="repair")


@repair_app.command("start")
def repair_start(
    veid: IdArg,
    fsck: Annotated[bool, typer.Option("--fsck", help="Check and repair the disk first.")] = False,
) -> None:
    """Start the rescue system in place of a stopped container; then `tandem ve enter ID`."""
    from tandem.containers import panel

    report = panel.repair_start(Containers(), veid, fsck=fsck)
    if report.strip():
        console.print(report.strip(), markup=False)
    console.print(
        f"Container {veid} is in repair mode: `tandem ve enter {veid}` gives a shell, its "
        "disk is at /repair; end it with `tandem ve repair stop`",
        markup=False,
    )


@repair_app.command("stop")
def repair_stop(veid: IdArg) -> None:
    """End repair mode; the container stays stopped."""
    from tandem.containers import panel

    panel.repair_stop(Containers(), veid)
    console.print(f"Container {veid} left repair mode; start it with `tandem ve start {veid}`")


@app.command()
def reinstall(
    veid: IdArg,
    wipe: Annotated[
        bool, typer.Option("--wipe", help="Erase the old files (default: keep them in /old).")
    ] = False,
) -> None:
    """A fresh system from the container's OS template; old files kept in /old or wiped."""
    from tandem.containers import panel

    panel.reinstall(Containers(), veid, wipe=wipe)
    how = "old files wiped" if wipe else "old files are in /old"
    console.print(f"Container {veid} was reinstalled ({how})")


@app.command()
def watch(
    interval: Annotated[float, typer.Option(help="Seconds between looks.")] = 5.0,
) -> None:
    """Watch the running containers and log every limit they hit (a node service)."""
    import signal
    import time

    from tandem import logs

    logs.setup("ve-watch")
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    containers = Containers()
    while not stop:
        try:
            for info in containers.listing():
                found = containers.observe(containers.definition(info.veid))[3]
                for sentence in found:
                    err_console.print(f"container {info.veid}: {sentence}", markup=False)
        except Exception as exc:
            err_console.print(f"cannot look at the containers now: {exc}", markup=False)
        time.sleep(interval)
