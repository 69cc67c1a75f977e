"""Production paths. The lab gives each node its own mount namespace with these same
paths bound to per-node directories, so no code ever asks whether it runs in the lab."""

from pathlib import Path

ETC_DIR = Path("/etc/tandem")
CONFIG_FILE = ETC_DIR / "cluster.toml"
SECRETS_DIR = ETC_DIR / "secrets"
STATE_DIR = Path("/var/lib/tandem")
RUN_DIR = Path("/run/tandem")
LOG_DIR = Path("/var/log/tandem")
VZ_DIR = Path("/vz")

NODE_SOCKET = RUN_DIR / "node.sock"
