"""The replicated volume (DR-1..DR-8): synchronous block replication like DRBD protocol C.
The core (core.py and its helpers) does no I/O; engine/ carries it out over FUSE, files
and TCP."""
