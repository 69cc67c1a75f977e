"""tandem: a two-node active/passive high-availability cluster for LXC system containers."""

__version__ = "0.1.0"
