"""The cluster configuration bundle (OP-1): one tar with cluster.toml and every secret,
optionally encrypted with a passphrase, checked as a whole before anything is installed."""
