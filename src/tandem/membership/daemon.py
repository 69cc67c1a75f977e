"""`tandem membership run`: the membership core on real sockets, the serial line and ICMP.

The daemon keeps nothing the core needs to decide; it decodes packets (counting what it
drops), feeds the core, carries out its actions, logs every notice as one sentence, and
answers the local RPC: `status` for operators and the web, `want`/`released`/`fenced` for
the failover logic. Its generation (how many times it started) is persisted before the
first packet goes out, so that a packet of an earlier life is always recognisable.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import hashlib
import json
import logging
import math
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tandem import paths, rpc
from tandem.config import ClusterConfig, NodeId, load_config, peer_of
from tandem.config.secrets import SecretPaths, read_cluster_key
from tandem.errors import ConfigError, TandemError
from tandem.fsutil import atomic_write
from tandem.membership import wire
from tandem.membership.core import CoreConfig, MembershipCore
from tandem.membership.events import (
    Action,
    BeatReceived,
    Event,
    HardReset,
    Notice,
    PeerFenced,
    PingResult,
    Released,
    SelfFence,
    SendBeat,
    SendWitness,
    Tick,
    Want,
    WitnessReplied,
)
from tandem.membership.ping import Pinger
from tandem.membership.transport import SerialPath, UdpPath
from tandem.membership.wire import Dropped, PathName

log = logging.getLogger("tandem.membership")

SOCKET = paths.RUN_DIR / "membership.sock"
STATE_FILE = paths.STATE_DIR / "membership.json"
RB_AUTOBOOT = 0x01234567


def hard_reset(reason: str) -> None:
    """The watchdog's last resort: reboot at once, without syncing (I/O may be what hangs).
    In a lab node (its own PID namespace) the kernel turns this into killing the node."""
    log.critical("%s; resetting the node now", reason)
    logging.shutdown()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.reboot(RB_AUTOBOOT)
    os._exit(70)  # reboot refused (no CAP_SYS_BOOT): die, so the supervisor notices


def core_config(cfg: ClusterConfig, node: NodeId, digest: str) -> CoreConfig:
    hb = cfg.heartbeat
    t = hb.timing()
    enabled: list[PathName] = []
    if hb.serial.enabled:
        enabled.append("serial")
    enabled.append("crossover")
    if hb.external.enabled:
        enabled.append("external")
    return CoreConfig(
        node=1 if node == "node1" else 2,
        paths=tuple(enabled),
        keepalive=t.keepalive,
        warntime=t.warntime,
        deadtime=t.deadtime,
        initdead=t.initdead,
        witness=cfg.quorum.witness is not None,
        stop_budget=cfg.quorum.stop_budget,
        margin=t.keepalive / 2,
        ping_nodes=tuple(str(p) for p in cfg.ping.nodes),
        config_digest=digest,
        await_crm=True,  # the node supervisor always runs the failover logic beside it
    )


class Generation:
    """How many times this node's membership started, kept on disk across crashes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            data = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            data = {}
        self.generation = int(data.get("generation", 0)) + 1
        self.peer_generation = int(data.get("peer_generation", 0))
        self.save()

    def save(self) -> None:
        data = {"generation": self.generation, "peer_generation": self.peer_generation}
        atomic_write(self.path, json.dumps(data) + "\n", 0o600)

    def saw_peer(self, generation: int) -> None:
        if generation > self.peer_generation:
            self.peer_generation = generation
            self.save()


class MembershipDaemon:
    def __init__(
        self,
        cfg: ClusterConfig,
        node: NodeId,
        cluster_key: bytes,
        digest: str = "",
        socket_path: Path = SOCKET,
        state_file: Path = STATE_FILE,
        reset: Callable[[str], None] = hard_reset,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg = cfg
        self.node = node
        self.peer = peer_of(node)
        self.socket_path = socket_path
        self.reset = reset
        self.clock = clock
        self.hb_key = wire.derive_key(cluster_key, "heartbeat")
        self.witness_key = wire.derive_key(cluster_key, "witness")
        self.gen = Generation(state_file)
        self.core_cfg = core_config(cfg, node, digest)
        self.core = MembershipCore(
            self.core_cfg, self.gen.generation, clock(), self.gen.peer_generation
        )
        self.started = time.time()
        self.dropped: dict[str, int] = {}
        self.udp: dict[PathName, UdpPath] = {}
        self.serial: SerialPath | None = None
        self.witness_udp: UdpPath | None = None
        self.fence: dict[str, Any] | None = None
        self.stop_event = asyncio.Event()
        self.digest_warned = False

    # --- packets in ----------------------------------------------------------------

    def _count(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def on_packet(self, path: PathName, data: bytes) -> None:
        try:
            packet = wire.decode(data, self.hb_key)
            if packet.kind != "beat":
                raise Dropped("malformed", f"a {packet.kind} on a heartbeat path")
            if packet.path != path:
                raise Dropped("wrong-path", f"sent on {packet.path}, arrived on {path}")
            if packet.sender != self.core_cfg.peer:
                raise Dropped("wrong-sender", f"sender {packet.sender}")
        except Dropped as exc:
            self._count(exc.reason)
            return
        self.feed(BeatReceived(path, packet.generation, packet.seq, packet.body))
        self.gen.saw_peer(self.core.peer.generation)
        self._check_digest()

    def on_witness_packet(self, data: bytes) -> None:
        try:
            packet = wire.decode(data, self.witness_key)
            if packet.kind != "witness-reply" or packet.sender != wire.WITNESS_ID:
                raise Dropped("malformed", "not a witness reply")
        except Dropped as exc:
            self._count(exc.reason)
            return
        self.feed(WitnessReplied(packet.generation, packet.seq, packet.body))

    def _check_digest(self) -> None:
        theirs = self.core.peer.body.get("cfg")
        if theirs and theirs != self.core_cfg.config_digest and not self.digest_warned:
            self.digest_warned = True
            log.warning(
                "cluster.toml differs between %s and %s; make them the same "
                "(the web management does this for every change)",
                self.node,
                self.peer,
            )

    # --- the core ------------------------------------------------------------------

    def feed(self, event: Event) -> list[Action]:
        actions = self.core.handle(event, self.clock())
        for action in actions:
            self.execute(action)
        return actions

    def execute(self, action: Action) -> None:
        if isinstance(action, SendBeat):
            self._send_beat(action)
        elif isinstance(action, SendWitness):
            self._send_witness(action)
        elif isinstance(action, Notice):
            log.info("%s", action.sentence)
        elif isinstance(action, SelfFence):
            self.fence = {"deadline": action.deadline, "reason": action.reason}
            log.warning("%s", action.reason)
        elif isinstance(action, HardReset):
            self.reset(action.reason)

    def _send_beat(self, action: SendBeat) -> None:
        gen = self.gen.generation
        for path in action.paths:
            packet = wire.Packet("beat", self.core_cfg.node, path, gen, action.seq, action.body)
            data = wire.encode(packet, self.hb_key)
            if path == "serial":
                if self.serial is not None:
                    self.serial.send(data)
            else:
                peer = self.cfg.node(self.peer)
                address = peer.crossover if path == "crossover" else peer.external
                self.udp[path].send(data, str(address), self.cfg.heartbeat.port)

    def _send_witness(self, action: SendWitness) -> None:
        witness = self.cfg.quorum.witness
        if witness is None or self.witness_udp is None:
            return
        packet = wire.Packet(
            "witness-request",
            self.core_cfg.node,
            "witness",
            self.gen.generation,
            action.seq,
            action.body,
        )
        self.witness_udp.send(
            wire.encode(packet, self.witness_key), str(witness), self.cfg.quorum.witness_port
        )

    # --- RPC -----------------------------------------------------------------------

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "status":
            return self.status()
        if op == "want":
            want = request.get("want")
            if not isinstance(want, bool):
                raise TandemError("want needs true or false")
            self.feed(Want(want))
            return self.status()
        if op == "released":
            self.fence = None
            self.feed(Released())
            return self.status()
        if op == "fenced":
            self.feed(PeerFenced())
            return self.status()
        if op == "volume":
            info = request.get("info")
            if not isinstance(info, dict) or len(json.dumps(info)) > 256:
                raise TandemError("volume needs a small table in 'info'")
            self.core.set_volume_info(info)
            self.feed(Tick())
            return {"peer_volume": self.core.peer_volume()}
        if op == "crm":
            info = request.get("info")
            outdate = request.get("outdate_peer")
            if not isinstance(info, dict) or len(json.dumps(info)) > 256:
                raise TandemError("crm needs a small table in 'info'")
            if outdate is not None and not isinstance(outdate, bool):
                raise TandemError("outdate_peer is true, false or null")
            self.core.set_crm_info(info, outdate)
            self.feed(Tick())
            return self.status()
        raise TandemError(
            f"unknown op {op!r}; membership knows status, want, released, fenced, volume, crm"
        )

    def status(self) -> dict[str, Any]:
        core, now = self.core, self.clock()
        peer = core.peer
        last = None if math.isinf(peer.last_rx) else round(now - peer.last_rx, 3)
        path_info: dict[str, Any] = {}
        for name, state in core.path_state.items():
            rx = peer.path_rx.get(name)
            path_info[name] = {
                "state": state,
                "last_heard": None if rx is None else round(now - rx, 3),
            }
        d = core.decision
        me, them = self.node, self.peer
        fence = None
        if self.fence is not None:
            fence = {
                "reason": self.fence["reason"],
                "deadline_in": round(self.fence["deadline"] - now, 3),
            }
        drops = dict(self.dropped)
        for reason, count in core.dropped.items():
            drops[reason] = drops.get(reason, 0) + count
        return {
            "node": me,
            "peer": them,
            "generation": self.gen.generation,
            "peer_generation": peer.generation or None,
            "peer_state": core.peer_state,
            "peer_state_since": round(time.time() - (now - core.peer_state_changed), 3),
            "peer_last_heard": last,
            "paths": path_info,
            "ping": {me: dict(core.ping), them: core.peer_ping()},
            "quorum": {
                "granted": d.quorate,
                "votes": list(d.votes),
                "reason": _quorum_reason(d.quorate, d.votes, core.cfg.witness),
                "witness": core.witness_state(now),
                "witness_address": str(self.cfg.quorum.witness or "") or None,
                "witness_holder": f"node{core.witness_holder}" if core.witness_holder else None,
            },
            "service_group": {
                "claimed": core.want,
                "granted": d.granted,
                "basis": d.basis or None,
                "reason": d.reason,
                "until": None if not d.granted or math.isinf(d.until) else round(d.until - now, 3),
                "peer_claims": bool(peer.body.get("claim")),
                "peer_granted": bool(peer.body.get("granted")),
                "may_fence_peer": core.may_fence_peer(),
                "self_fence": fence,
            },
            "dropped": drops,
            "volume": {"mine": dict(core.volume_info), "peer": core.peer_volume()},
            "crm": {"mine": dict(core.crm_info), "peer": core.peer_crm()},
            "witness_record": {
                "outdate_peer": core.outdate_peer,
                "self_outdated": core.witness_self_outdated,
                "peer_outdated": core.witness_peer_outdated,
            },
            "timing": {
                "keepalive": self.core_cfg.keepalive,
                "warntime": self.core_cfg.warntime,
                "deadtime": self.core_cfg.deadtime,
                "initdead": self.core_cfg.initdead,
            },
            "started": self.started,
        }

    # --- running -------------------------------------------------------------------

    def _receiver(self, path: PathName) -> Callable[[bytes], None]:
        return lambda data: self.on_packet(path, data)

    def _ping_result(self, target: str, ok: bool) -> None:
        self.feed(PingResult(target, ok))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop_event.set)
        me = self.cfg.node(self.node)
        port = self.cfg.heartbeat.port
        for path in self.core_cfg.paths:
            if path == "serial":
                serial_cfg = self.cfg.heartbeat.serial
                self.serial = SerialPath(
                    str(serial_cfg.device), serial_cfg.baud, self._receiver("serial")
                )
                self.serial.start()
            else:
                local = me.crossover if path == "crossover" else me.external
                udp = UdpPath(path, str(local), port, self._receiver(path))
                await udp.open()
                self.udp[path] = udp
        if self.cfg.quorum.witness is not None:
            self.witness_udp = UdpPath("witness", str(me.external), 0, self.on_witness_packet)
            await self.witness_udp.open()
        pinger = Pinger(
            [str(p) for p in self.cfg.ping.nodes],
            self.cfg.ping_interval(),
            self._ping_result,
        )
        tasks = [asyncio.create_task(pinger.run(), name="ping")]
        server = await rpc.serve(self.socket_path, self.handle)
        log.info(
            "membership of %s up (generation %s): paths %s, deadtime %g s%s",
            self.node,
            self.gen.generation,
            ", ".join(self.core_cfg.paths),
            self.core_cfg.deadtime,
            f", witness {self.cfg.quorum.witness}" if self.cfg.quorum.witness else ", no witness",
        )
        period = self.core_cfg.keepalive / 4
        try:
            while not self.stop_event.is_set():
                self.feed(Tick())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop_event.wait(), period)
        finally:
            for task in tasks:
                task.cancel()
            server.close()
            for udp in self.udp.values():
                udp.close()
            if self.witness_udp is not None:
                self.witness_udp.close()
            if self.serial is not None:
                self.serial.stop()
            self.socket_path.unlink(missing_ok=True)
        log.info("membership of %s down", self.node)


def _quorum_reason(quorate: bool, votes: tuple[str, ...], witness: bool) -> str:
    if quorate:
        return f"quorum held with the votes of {' and '.join(votes)}"
    if witness:
        return "no quorum: neither the peer nor the witness votes for this node"
    return "no quorum from the peer; without a witness only a ping node or fencing decides"


def load(config_file: Path = paths.CONFIG_FILE) -> tuple[ClusterConfig, NodeId, bytes, str]:
    """The configuration, which node this is, the cluster key and the file's digest."""
    cfg = load_config(config_file)
    hostname = socket.gethostname()
    node = cfg.node_by_hostname(hostname)
    if node is None:
        raise ConfigError(f"this host is called {hostname!r}, but {config_file} names neither node")
    key = read_cluster_key(SecretPaths(config_file.parent / "secrets").cluster_key)
    digest = hashlib.sha256(config_file.read_bytes()).hexdigest()[:12]
    return cfg, node, key, digest
