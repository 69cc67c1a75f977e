"""The volume engine: the replication core on FUSE, files and TCP (`tandem volume run`)."""
