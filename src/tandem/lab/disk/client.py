"""Talking to a lab disk's daemon over its Unix socket (one JSON line each way)."""

from __future__ import annotations

from tandem.lab.keeper_client import SocketClient


class DiskClient(SocketClient):
    what = "the lab disk"
