"""Membership (HB-1..HB-6): heartbeats over several paths, ping nodes, quorum with an
optional witness, self-fencing. The core (core.py, quorum.py) does no I/O; daemon.py and
the edges carry it out over UDP, the serial line and ICMP."""
