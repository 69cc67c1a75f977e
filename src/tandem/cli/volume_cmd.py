"""`tandem volume`: the replicated volume under /vz (DR-1..DR-8)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import typer

from tandem import logs, paths, rpc
from tandem.cli.output import console, fail, print_json

app = typer.Typer(help="The replicated volume under /vz: status, roles, attach, resync, verify.")

SOCKET = paths.RUN_DIR / "volume.sock"
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _ask(op: str, **args: Any) -> dict[str, Any]:
    try:
        return rpc.call(SOCKET, op, timeout=30, **args)
    except rpc.RpcUnavailable as exc:
        fail(f"the volume engine is not running on this node: {exc}")


@app.command("run")
def run_() -> None:
    """Run this node's volume engine (the node supervisor starts it)."""
    import trio

    from tandem.replication.engine.service import engine_from_config

    logs.setup("volume")
    engine = engine_from_config()
    if not engine.store.exists():
        # A first start: an empty replica is harmless (Inconsistent, no generation); it
        # takes a full sync from the peer, or an operator's `initialize` (seed 7.2, 7.3).
        engine.store.create()
        logging.getLogger("tandem.volume").info(
            "created an empty replica of %.1f GiB in %s",
            engine.store.size / 2**30,
            engine.store.dir,
        )
    trio.run(engine.run)


@app.command()
def create(
    force: Annotated[
        bool, typer.Option(help="Replace an existing replica: ALL its data is lost.")
    ] = False,
) -> None:
    """Create this node's (empty) replica; initialize one node or sync it from the peer."""
    from tandem.replication.engine.service import store_from_config

    store = store_from_config()
    try:
        rpc.call(SOCKET, "status", timeout=5)
        running = True
    except rpc.RpcUnavailable:
        running = False
    if running:
        fail(
            "the volume engine is running and has this replica open; on a node whose disk "
            "was replaced, `tandem node restart volume` makes the new empty replica by itself"
        )
    if store.exists() and not force:
        fail(f"a replica exists in {store.dir}; --force destroys it and everything on it")
    store.create()
    console.print(
        f"created an empty replica of {store.size / 2**30:g} GiB in {store.dir}: it takes a "
        "full sync from the peer, or `tandem volume initialize` makes it a new data set",
        markup=False,
    )


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Roles, disk and connection states, resync progress (like drbdadm status)."""
    info = _ask("status")
    if as_json:
        print_json(info)
        return
    render(info)


def render(info: dict[str, Any]) -> None:
    size = info["size"] / 2**30
    console.print(
        f"{info['node']} role:{info['role']} disk:{info['disk']}  (protocol {info['protocol']},"
        f" {size:g} GiB)",
        markup=False,
    )
    peer_role = info["peer_role"] or "-"
    peer_disk = info["peer_disk"] or "-"
    console.print(
        f"  {info['peer']} connection:{info['connection']} role:{peer_role} disk:{peer_disk}",
        markup=False,
    )
    console.print(f"  out of sync: {info['out_of_sync_bytes'] / 2**20:.1f} MiB", markup=False)
    sync = info.get("sync")
    if sync:
        left = sync["seconds_left"]
        console.print(
            f"  sync: {sync['done_percent']:.1f} % done, {sync['speed'] / 2**20:.1f} MiB/s"
            + (f", {left:.0f} s left" if left is not None else ""),
            markup=False,
        )
    if info.get("verify"):
        v = info["verify"]
        console.print(f"  verify: {v['checked_blocks']} blocks checked, {v['differing']} differ")
    if info.get("last_sync"):
        s = info["last_sync"]
        console.print(f"  last resync: {s['bytes'] / 2**20:.1f} MiB in {s['seconds']:.1f} s")
    if info.get("last_verify"):
        v = info["last_verify"]
        console.print(f"  last verify: {v['differing']} of {v['blocks']} blocks differed")
    if info.get("frozen"):
        console.print("  [red]I/O frozen[/] until the peer is known Outdated or comes back")
    for key in ("standalone_reason", "detach_reason"):
        if info.get(key):
            console.print(f"  {info[key]}", markup=False)
    problem = info["link"].get("problem")
    if problem:
        console.print(f"  link: {problem}", markup=False)
    for alarm in info.get("alarms", []):
        console.print(f"  [red]alarm:[/] {alarm}")


def _act(op: str, **args: Any) -> None:
    render(_ask(op, **args))


@app.command()
def primary(
    force: Annotated[
        bool, typer.Option(help="Even with Outdated or Inconsistent data (an operator's call).")
    ] = False,
    peer_gone: Annotated[
        bool,
        typer.Option(
            help="Confirm that the peer is down and wrote nothing alone (a Consistent replica).",
        ),
    ] = False,
) -> None:
    """Become Primary (refused, with the reason, when the data may be stale)."""
    _act("primary", force=force, confirmed=peer_gone)


@app.command()
def secondary() -> None:
    """Become Secondary (detach first)."""
    from tandem.replication.engine.attach import attached

    if attached():
        fail("the volume is attached; `tandem volume detach` first")
    _act("secondary")


@app.command()
def attach(
    mkfs: Annotated[bool, typer.Option(help="Make a new ext4 first (destroys the data).")] = False,
) -> None:
    """Attach the Primary's volume: loop device with direct I/O, fsck, mount /vz."""
    from tandem.errors import TandemError
    from tandem.replication.engine import attach as att

    info = _ask("status")
    if info["role"] != "Primary":
        fail(
            f"this replica is {info['role']}: its volume cannot be attached or written; "
            "promote it first with `tandem volume primary` on the node that should serve"
        )
    try:
        record = att.attach(mkfs=mkfs)
    except TandemError as exc:
        fail(str(exc))
    console.print(f"attached: {record['loop']} mounted at {record['mountpoint']}", markup=False)


@app.command()
def detach() -> None:
    """Unmount /vz and release the loop device."""
    from tandem.errors import TandemError
    from tandem.replication.engine import attach as att

    try:
        record = att.detach()
    except TandemError as exc:
        fail(str(exc))
    console.print("detached" if record else "nothing was attached")


@app.command()
def verify() -> None:
    """Compare both replicas by checksum while in service; resync what differs (DR-6)."""
    _act("verify")


@app.command()
def resolve(
    discard: Annotated[str, typer.Option(help="node1 or node2: whose changes to throw away.")],
) -> None:
    """Resolve a split brain by discarding one side's changes (run on both nodes)."""
    _act("resolve", discard=discard)


@app.command()
def invalidate() -> None:
    """Throw this replica's data away and take a full sync (seed 7.2)."""
    _act("invalidate")


@app.command()
def initialize() -> None:
    """Make this (empty) replica a new data set; the peer full-syncs from it (seed 7.3)."""
    _act("initialize")


@app.command()
def connect() -> None:
    """Leave StandAlone and connect again."""
    _act("connect")


@app.command("outdate-peer")
def outdate_peer(
    peer_is_down: Annotated[
        bool, typer.Option(help="Required: you checked that the peer is powered off.")
    ] = False,
) -> None:
    """Release frozen I/O when the peer cannot be outdated another way (fence by hand)."""
    if not peer_is_down:
        fail("check that the peer is powered off, then pass --peer-is-down")
    _act("outdate-peer")
