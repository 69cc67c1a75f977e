"""The heartbeat paths' edges: UDP on the crossover and external networks, and the serial
line. They move bytes and report trouble; they never decide anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable

import serial

from tandem.membership.wire import SlipDecoder, slip_frame

log = logging.getLogger("tandem.membership")

IP_FREEBIND = 15  # bind to an address that is not (yet) on an interface


class UdpPath(asyncio.DatagramProtocol):
    """One UDP socket bound to this node's address on one network."""

    def __init__(
        self, name: str, local: str, port: int, on_packet: Callable[[bytes], None]
    ) -> None:
        self.name = name
        self.local = local
        self.port = port
        self.on_packet = on_packet
        self.transport: asyncio.DatagramTransport | None = None
        self.send_errors = 0

    async def open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # The lab, or a slow network start, may add the address after we start.
        sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
        sock.bind((self.local, self.port))
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, sock=sock)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:  # noqa: ARG002
        self.on_packet(data)

    def error_received(self, exc: Exception) -> None:  # noqa: ARG002
        self.send_errors += 1  # ICMP unreachable and the like: the path is down, that's all

    def send(self, data: bytes, address: str, port: int) -> None:
        if self.transport is None:
            return
        try:
            self.transport.sendto(data, (address, port))
        except OSError:
            self.send_errors += 1

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class SerialPath:
    """The null-modem line: SLIP frames both ways; reopened when the device comes back."""

    REOPEN = 2.0

    def __init__(self, device: str, baud: int, on_packet: Callable[[bytes], None]) -> None:
        self.device = device
        self.baud = baud
        self.on_packet = on_packet
        self.port: serial.Serial | None = None
        self.fd: int | None = None
        self.decoder = SlipDecoder()
        self.send_errors = 0
        self.problem: str | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_open(), name="serial")

    async def _keep_open(self) -> None:
        while True:
            if self.port is None:
                self._open()
            await asyncio.sleep(self.REOPEN)

    def _open(self) -> None:
        try:
            port = serial.Serial(self.device, self.baud, timeout=0, write_timeout=0)
        except (serial.SerialException, OSError) as exc:
            problem = f"cannot open serial device {self.device}: {exc}"
            if problem != self.problem:
                log.warning("%s; trying again every %.0f s", problem, self.REOPEN)
                self.problem = problem
            return
        self.port, self.fd = port, port.fileno()
        os.set_blocking(self.fd, False)
        port.reset_input_buffer()
        asyncio.get_running_loop().add_reader(self.fd, self._readable)
        if self.problem:
            log.info("serial device %s open again", self.device)
        self.problem = None

    def _readable(self) -> None:
        assert self.fd is not None
        try:
            data = os.read(self.fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lost(exc)
            return
        for frame in self.decoder.feed(data):
            self.on_packet(frame)

    def send(self, data: bytes) -> None:
        if self.fd is None:
            return
        try:
            os.write(self.fd, slip_frame(data))
        except BlockingIOError:
            self.send_errors += 1  # the line is slower than we talk: drop, never block
        except OSError as exc:
            self._lost(exc)

    def _lost(self, exc: OSError) -> None:
        log.warning("serial device %s failed (%s); reopening", self.device, exc)
        self.problem = str(exc)
        self.close()

    def close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_reader(self.fd)
        if self.port is not None:
            with contextlib.suppress(OSError, serial.SerialException):
                self.port.close()
        self.port = self.fd = None

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.close()
