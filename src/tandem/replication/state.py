"""What a replica knows and the helpers every part of the core shares (see core.py)."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tandem.errors import UsageError
from tandem.replication import messages as m
from tandem.replication.activity import EXTENT_BLOCKS, ActivityLog
from tandem.replication.bitmap import BLOCK, Bitmap, blocks_of
from tandem.replication.events import (
    Action,
    Notice,
    PersistMeta,
    Send,
)
from tandem.replication.generations import Generations
from tandem.replication.states import LINKED, Conn, Disk, Role

SYNC_RUN = 256  # blocks per resync or verify message: 1 MiB
SYNC_INFLIGHT = 8
RATE_BURST = 0.1  # seconds of the resync rate that may go out at once
PEER_FLUSH_INTERVAL = 1.0  # bounds what a link failure can leave unflushed on the peer


@dataclass(frozen=True)
class ReplicaConfig:
    node: int
    blocks: int
    protocol: str = "C"
    ack_timeout: float = 5.0
    resync_rate: float = 100 * 1024 * 1024  # bytes per second
    al_slots: int = 32


@dataclass
class Meta:
    """What survives a restart: loaded by the engine, written on PersistMeta."""

    gens: Generations
    disk: Disk = Disk.INCONSISTENT
    was_primary: bool = False
    al: list[int] = field(default_factory=list)
    bitmap: bytes = b""

    def to_dict(self) -> dict[str, Any]:
        return {
            "current": self.gens.current,
            "bitmap_gen": self.gens.bitmap,
            "history": list(self.gens.history),
            "disk": self.disk.value,
            "was_primary": self.was_primary,
            "al": list(self.al),
        }


@dataclass
class Request:
    req: int
    kind: str  # write, flush, read
    blocks: range = range(0)
    local: bool = False  # local part done (or not needed)
    peer: bool = False  # peer part done (or not needed)
    failed: str = ""
    data: bytes | None = None
    offset: int = 0
    seq: int = 0
    held: bool = False  # waits for the peer's fate (frozen I/O), not for an ack


class ReplicaState:
    """The state of one replica; the core's parts below act on it."""

    def __init__(  # noqa: PLR0915 - every field of the state, with why beside it
        self, cfg: ReplicaConfig, meta: Meta, now: float, new_id: Callable[[], int]
    ) -> None:
        if cfg.protocol not in ("A", "B", "C"):
            raise UsageError(f"protocol must be A, B or C, not {cfg.protocol}")
        self.cfg = cfg
        self.new_id = new_id
        self.now = now
        self.gens = meta.gens
        # What a restart knows: the peer may have written alone meanwhile.
        self.disk: Disk = Disk.CONSISTENT if meta.disk == Disk.UP_TO_DATE else meta.disk
        self.was_primary = meta.was_primary
        self.bitmap = Bitmap(cfg.blocks, meta.bitmap)
        # A crash while Primary: whatever was in flight may differ on the peer.
        for extent in meta.al:
            self.bitmap.set_range(extent * EXTENT_BLOCKS, EXTENT_BLOCKS)
        self.al = ActivityLog(meta.al if meta.was_primary else [], cfg.al_slots)
        self.role = Role.SECONDARY
        self.conn = Conn.CONNECTING
        self.peer_disk: Disk | None = None  # the peer's disk as last reported
        # UpToDate when the link to the peer broke, in this life (never persisted: a
        # restart cannot know what the peer did meanwhile).
        self.lost_current = False
        self.peer_primary = False
        self.io = 0
        self.ios: dict[int, tuple[str, Any]] = {}
        self.requests: dict[int, Request] = {}
        self.busy_blocks: dict[int, int] = {}  # block -> writes in flight on it
        self.overlapping: list[Request] = []
        self.seq = 0
        self.peer_pending: OrderedDict[int, int] = OrderedDict()  # seq -> req
        self.peer_sent_at: OrderedDict[int, float] = OrderedDict()  # seq -> time sent
        self.unflushed: OrderedDict[int, range] = OrderedDict()  # seq -> blocks
        self.frozen = False
        self.outdate_token = 0
        self.waiting_meta: list[Callable[[list[Action]], None]] = []
        self.meta_io: int | None = None
        self.meta_again = False
        self.last_peer_flush = now
        self.epoch = 0  # one per connection: sequence numbers start over with each
        self.handshakes = 0
        self.acks_held = False
        self.held_flush_acks: list[int] = []
        self.target_ready = False  # Inconsistent is on disk: resync data may be written
        self.write_queue: list[m.Data | m.SyncData] = []
        self.sec_busy: dict[int, int] = {}
        self.sync_done_pending: int | None = None
        # secondary side
        self.applied = 0  # highest peer seq written locally
        self.apply_done: set[int] = set()
        self.flush_wait: list[int] = []
        # resync and verify
        self.sync_cursor = 0
        self.sync_reads: dict[int, tuple[int, int, bool]] = {}  # io -> (start, count, stale)
        self.sync_unacked: dict[int, int] = {}  # start -> count
        self.sync_total = 0
        self.sync_budget = 0.0
        self.sync_refilled = now
        self.sync_started = now
        self.sync_target_gen = 0
        self.sync_deferred = False
        self.verify_cursor = 0
        self.verify_reads: dict[int, tuple[int, int, bool]] = {}
        self.verify_waiting: dict[int, tuple[int, bool]] = {}  # start -> (count, stale)
        self.verify_diff = 0
        self.verify_total = 0
        # the last ones finished, for status: what moved, what differed
        self.last_sync: dict[str, float] | None = None
        self.last_verify: dict[str, int] | None = None
        self.runs = 0  # numbers each finished resync and verify, so a poller sees a new one
        self.reads_from_peer: dict[int, int] = {}  # read id -> req
        self.split: dict[str, int] | None = None
        self.standalone_reason = ""
        self.detach_reason = ""
        self.lost_writes = False

    def _io(self, kind: str, ctx: Any = None) -> int:
        self.io += 1
        self.ios[self.io] = (kind, ctx)
        return self.io

    def _notice(self, out: list[Action], kind: str, sentence: str, **data: Any) -> None:
        out.append(Notice(kind, f"node{self.cfg.node}: {sentence}", data))

    @property
    def linked(self) -> bool:
        return self.conn in LINKED

    @property
    def has_disk(self) -> bool:
        return self.disk != Disk.DISKLESS

    def meta(self) -> Meta:
        return Meta(self.gens, self.disk, self.was_primary, self.al.extents(), b"")

    def _persist(
        self, out: list[Action], then: Callable[[list[Action]], None] | None = None
    ) -> None:
        """Write the metadata; `then` runs once it is durable. Writes coalesce."""
        if then is not None:
            self.waiting_meta.append(then)
        if not self.has_disk:
            self._meta_durable(out)
            return
        if self.meta_io is not None:
            self.meta_again = True
            return
        meta = self.meta().to_dict()
        # A sync target clears bits as data arrives, but that data is not durable yet:
        # its bitmap reaches the disk only at the start and, after a flush, at the end.
        syncing = self.conn == Conn.SYNC_TARGET and self.target_ready
        meta["bitmap_pages"] = {} if syncing else self.bitmap.take_dirty_pages()
        self.meta_io = self._io("meta")
        out.append(PersistMeta(self.meta_io, meta))

    def _start_budget(self) -> None:
        self.sync_budget = self.cfg.resync_rate * RATE_BURST
        self.sync_refilled = self.now

    def _refill_budget(self) -> None:
        """A token bucket by elapsed time: resync and verify together never exceed the
        configured rate, however often acknowledgements wake them."""
        elapsed = max(0.0, self.now - self.sync_refilled)
        self.sync_refilled = self.now
        burst = self.cfg.resync_rate * RATE_BURST
        self.sync_budget = min(self.sync_budget + elapsed * self.cfg.resync_rate, burst)

    def _meta_durable(self, out: list[Action]) -> None:
        waiting, self.waiting_meta = self.waiting_meta, []
        for fn in waiting:
            fn(out)

    def _state_msg(self, out: list[Action]) -> None:
        if self.linked:
            out.append(Send(m.State(self.role == Role.PRIMARY, self.disk.value)))

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "role": self.role.value,
            "disk": self.disk.value,
            "connection": self.conn.value,
            "peer_role": ("Primary" if self.peer_primary else "Secondary") if self.linked else None,
            "peer_disk": self.peer_disk.value if self.peer_disk and self.linked else None,
            "out_of_sync_bytes": self.bitmap.count * BLOCK,
            "generations": {
                "current": f"{self.gens.current:016x}",
                "bitmap": f"{self.gens.bitmap:016x}",
                "history": [f"{h:016x}" for h in self.gens.history],
            },
            "frozen": self.frozen,
            "protocol": self.cfg.protocol,
            "current_when_lost": (
                self.lost_current and self.disk == Disk.CONSISTENT and self.role == Role.SECONDARY
            ),
        }
        if self.conn in (Conn.SYNC_SOURCE, Conn.SYNC_TARGET):
            total = max(self.sync_total, 1) * BLOCK
            left = self.bitmap.count * BLOCK
            took = max(self.now - self.sync_started, 1e-6)
            speed = max(total - left, 0) / took
            out["sync"] = {
                "done_percent": round(100 * (1 - left / total), 1),
                "bytes_left": left,
                "speed": round(speed),
                "seconds_left": round(left / speed, 1) if speed else None,
            }
        if self.conn in (Conn.VERIFY_SOURCE, Conn.VERIFY_TARGET):
            out["verify"] = {"checked_blocks": self.verify_total, "differing": self.verify_diff}
        if self.conn == Conn.STANDALONE:
            out["standalone_reason"] = self.standalone_reason
        if self.split is not None:
            out["split_brain"] = {k: v * BLOCK for k, v in self.split.items()}
        if self.detach_reason:
            out["detach_reason"] = self.detach_reason
        out["last_sync"] = self.last_sync
        out["last_verify"] = self.last_verify
        return out

    # --- implemented by the other parts of the core (core.py combines them) ------------

    def _finish(
        self, r: Request, out: list[Action], error: str = "", data: bytes | None = None
    ) -> None:
        raise NotImplementedError

    def _maybe_complete(self, r: Request, out: list[Action]) -> None:
        raise NotImplementedError

    def _become_sync_source(self, out: list[Action], full: bool) -> None:
        raise NotImplementedError

    def _become_sync_target(self, out: list[Action], target_gen: int, full: bool) -> None:
        raise NotImplementedError

    def _drain_writes(self, out: list[Action]) -> None:
        raise NotImplementedError

    def _invalidate_sync_reads(self, blocks: range) -> None:
        raise NotImplementedError

    def _release_acks(self, out: list[Action]) -> None:
        raise NotImplementedError

    def _link_down(self, reason: str, out: list[Action]) -> None:
        raise NotImplementedError

    def _connect(self, out: list[Action]) -> None:
        raise NotImplementedError

    def _standalone(self, out: list[Action], reason: str) -> None:
        raise NotImplementedError

    def _detach(self, reason: str, out: list[Action]) -> None:
        raise NotImplementedError


def digests(data: bytes) -> bytes:
    return b"".join(
        hashlib.blake2b(data[i : i + BLOCK], digest_size=16).digest()
        for i in range(0, len(data), BLOCK)
    )


def msg_blocks(msg: m.Data | m.SyncData) -> range:
    if isinstance(msg, m.Data):
        return blocks_of(msg.offset, len(msg.data))
    return range(msg.block, msg.block + len(msg.data) // BLOCK)


def overlap(a: range, b: range) -> bool:
    return a.start < b.stop and b.start < a.stop


def start_is_none(bitmap: Bitmap, cursor: int) -> bool:
    return bitmap.next_set(cursor) is None
