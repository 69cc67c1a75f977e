"""Building the engine from /etc/tandem: which node this is, where it listens, its keys."""

from __future__ import annotations

from tandem import paths
from tandem.config.secrets import SecretPaths, read_cluster_key
from tandem.membership.daemon import load
from tandem.membership.wire import derive_key
from tandem.replication.engine.attach import MOUNTPOINT
from tandem.replication.engine.daemon import EngineSettings, VolumeEngine
from tandem.replication.engine.store import Store

STORE_DIR = paths.STATE_DIR / "volume"


def store_from_config() -> Store:
    cfg, _, _, _ = load()
    return Store(STORE_DIR, cfg.volume.size)


def engine_from_config() -> VolumeEngine:
    cfg, node, key, _ = load()
    secrets = SecretPaths(paths.SECRETS_DIR)
    me = cfg.node(node)
    peer = cfg.node("node2" if node == "node1" else "node1")
    port = cfg.volume.port
    settings = EngineSettings(
        node=1 if node == "node1" else 2,
        size=cfg.volume.size,
        protocol=cfg.volume.protocol,
        resync_rate=float(cfg.volume.resync_rate),
        ack_timeout=cfg.volume.timeout,
        listen=(str(me.crossover), port) if node == "node1" else None,
        connect=(str(peer.crossover), port) if node == "node2" else None,
        key=derive_key(read_cluster_key(secrets.cluster_key), "replication"),
        mountpoint=MOUNTPOINT,
        socket=paths.RUN_DIR / "volume.sock",
        membership=paths.RUN_DIR / "membership.sock",
        tls=(str(secrets.tls_cert), str(secrets.tls_key)) if cfg.volume.encrypt else None,
        detach_on_stop=True,
    )
    del key
    return VolumeEngine(settings, Store(STORE_DIR, cfg.volume.size))
