"""Talking to the lab keeper (and, through the same base, a lab disk's daemon) over a
Unix socket: one JSON line each way."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from tandem.errors import LabError


class SocketClient:
    what = "the lab daemon"  # how errors name the other side

    def __init__(self, path: Path, timeout: float = 60.0) -> None:
        self.path = path
        self.timeout = timeout

    def alive(self) -> bool:
        try:
            self.call("status")
        except LabError:
            return False
        return True

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        request = json.dumps({"op": op, **args}).encode() + b"\n"
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(str(self.path))
                sock.sendall(request)
                reply = sock.makefile("rb").readline()
        except (OSError, TimeoutError) as exc:
            raise LabError(f"{self.what} at {self.path} does not answer ({exc})") from None
        if not reply:
            raise LabError(f"{self.what} at {self.path} closed the connection")
        data: dict[str, Any] = json.loads(reply)
        if not data.pop("ok", False):
            raise LabError(str(data.get("error", f"{self.what} refused")))
        return data


class KeeperClient(SocketClient):
    what = "the lab keeper"
