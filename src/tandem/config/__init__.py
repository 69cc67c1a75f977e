"""The cluster configuration (/etc/tandem/cluster.toml) and its secrets."""

from tandem.config.load import InvalidConfig, load_config, parse_config, validate_config
from tandem.config.model import NODE_IDS, ClusterConfig, NodeId, peer_of
from tandem.config.rules import ConfigIssue

__all__ = [
    "NODE_IDS",
    "ClusterConfig",
    "ConfigIssue",
    "InvalidConfig",
    "NodeId",
    "load_config",
    "parse_config",
    "peer_of",
    "validate_config",
]
