"""The lab's disks: a volatile write cache under each node's /var/lib/tandem (LAB-2).

A real disk (and the filesystem above it) may hold written data in a cache until it is
told to flush; a power cut loses what was not flushed. The replicated-volume engine must
survive that, so the lab gives each node such a disk, in the spirit of LazyFS:

- `cache.py`   the cache model: what the node sees now, what is durable, what a flush
               makes durable and what a power cut keeps; no I/O, tested without FUSE;
- `pages.py`   one file's unflushed data (4 KiB pages over its durable contents);
- `journal.py` the unflushed namespace changes (create, mkdir, rename, unlink, rmdir);
- `store.py`   the durable side: the node's real directory on the host;
- `memstore.py` the same interface in memory, for tests of the model;
- `fs.py`      the pyfuse3 filesystem that puts the model under the node's path;
- `daemon.py`  the process the lab keeper runs per node, with a control socket;
- `client.py`  how `tandem lab` talks to it.

docs/lab.md ("Disks") says what is volatile and what a power cut keeps.
"""
