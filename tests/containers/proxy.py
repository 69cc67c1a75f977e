"""A small HTTP forward proxy on the administrator's PC (this host), for the lab.

The lab's external network has no way out: its router routes only between the lab's own
machines. A real cluster reaches its Debian mirror through its gateway or an HTTP proxy;
in the lab the administrator's PC plays that proxy, so `tandem template build debian-12`
inside a node fetches from the host's configured mirror as it would in production (with
`http_proxy` set, which debootstrap honours). Plain HTTP GET and HEAD only: what APT and
debootstrap use for a http:// mirror.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import shutil
import socketserver
import threading
import urllib.parse
from collections.abc import Iterator

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
              "trailer", "upgrade", "proxy-authorization", "proxy-authenticate"}  # fmt: skip


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_HEAD(self) -> None:
        self._forward(body=False)

    def do_GET(self) -> None:
        self._forward(body=True)

    def _forward(self, body: bool) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.scheme != "http" or not url.hostname:
            self.send_error(400, "only absolute http:// URLs")
            return
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        target = url.path + (f"?{url.query}" if url.query else "")
        try:
            conn.request(self.command, target or "/", headers=headers)
            reply = conn.getresponse()
            self.send_response(reply.status, reply.reason)
            for key, value in reply.getheaders():
                if key.lower() not in HOP_BY_HOP:
                    self.send_header(key, value)
            if reply.getheader("Content-Length") is None:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if body:
                shutil.copyfileobj(reply, self.wfile, 1 << 16)
        except OSError as exc:
            with contextlib.suppress(OSError):
                self.send_error(502, f"upstream: {exc}")
        finally:
            conn.close()

    def log_message(self, format: str, *args: object) -> None:
        del format, args


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextlib.contextmanager
def serve(address: str, port: int = 0) -> Iterator[str]:
    """Run the proxy on `address` while the block runs; yields its http:// URL."""
    server = _Server((address, port), _Handler)
    thread = threading.Thread(target=server.serve_forever, name="tandem-test-proxy", daemon=True)
    thread.start()
    try:
        yield f"http://{address}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
