"""OP-7: `tandem support on|off|status` against a real sshd (Debian's openssh-server)
started by the test on 127.0.0.1 with its own host key and authorized_keys: the tunnel
comes up, a connection to the reverse port on the "support host" reaches the node's
listener, killing the tunnel's ssh (by its PID) brings it back within 10 s, and `support
off` closes it. Every change is in the event log."""

from __future__ import annotations

import json
import os
import signal
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tandem.eventlog.log import read
from tandem.rootdir import Root
from tandem.support.tunnel import ensure_key
from tests.conftest import tandem

SSHD = "/usr/sbin/sshd"
BANNER = b"SSH-2.0-the-node's-own-ssh\r\n"

pytestmark = pytest.mark.skipif(
    not Path(SSHD).exists() or os.geteuid() != 0,
    reason="needs Debian's openssh-server and root (make setup installs it)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Banner(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(BANNER)


@pytest.fixture
def node_ssh() -> Iterator[int]:
    """A listener that stands for the node's own SSH server."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Banner)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


class Sshd:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.authorized = directory / "authorized_keys"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        str(directory / "host_key")], check=True)  # fmt: skip
        self.authorized.touch(mode=0o600)
        (directory / "sshd_config").write_text(f"""
Port {self.port}
ListenAddress 127.0.0.1
HostKey {directory}/host_key
PidFile {directory}/sshd.pid
AuthorizedKeysFile {self.authorized}
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding remote
GatewayPorts no
ClientAliveInterval 2
ClientAliveCountMax 2
""")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(directory / "sshd_config")],
            stdout=subprocess.DEVNULL, stderr=(directory / "sshd.log").open("w"),
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("sshd did not start: " + (directory / "sshd.log").read_text())

    def stop(self) -> None:
        os.kill(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=10)


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    d = tmp_path / "support-host"
    d.mkdir()
    server = Sshd(d)
    yield server
    server.stop()


def through(port: int) -> bytes:
    """What a connection to the support host's reverse port receives."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.settimeout(5)
        return s.recv(100)


def write_config(root: Root, extra: str = "") -> None:
    """This host as node1 of cluster alpha."""
    root.config.parent.mkdir(parents=True, exist_ok=True)
    root.config.write_text(
        f"""
[cluster]
name = "alpha"
[node1]
hostname = "{socket.gethostname()}"
crossover = "192.168.255.1"
external = "10.0.0.11"
[node2]
hostname = "other"
crossover = "192.168.255.2"
external = "10.0.0.12"
"""
        + extra
    )


def status(root: Root) -> dict[str, object]:
    out = tandem("support", "status", "--json", "--root", str(root.base))
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


def test_the_support_tunnel_comes_up_comes_back_and_closes(
    tmp_path: Path, sshd: Sshd, node_ssh: int
) -> None:
    root = Root(tmp_path / "node")
    remote = free_port()
    write_config(
        root,
        f"""
[support]
host = "127.0.0.1"
port = {sshd.port}
user = "root"
remote_port = {remote}
local_port = {node_ssh}
""",
    )
    assert status(root)["on"] is False
    sshd.authorized.write_text(ensure_key(root, "alpha") + "\n")
    assert (root.secrets / "support_ed25519").stat().st_mode & 0o777 == 0o600
    try:
        out = tandem("support", "on", "--json", "--root", str(root.base))
        assert out.returncode == 0, out.stderr
        info = json.loads(out.stdout)
        assert info["on"] and info["state"] == "up", info
        assert info["public_key"].startswith("ssh-ed25519 ")
        assert through(remote) == BANNER

        first_ssh = int(info["ssh_pid"])
        os.kill(first_ssh, signal.SIGKILL)
        killed = time.monotonic()
        back = None
        while time.monotonic() - killed < 10:
            now = status(root)
            if now["state"] == "up" and now["ssh_pid"] != first_ssh:
                try:
                    if through(remote) == BANNER:
                        back = time.monotonic() - killed
                        break
                except OSError:
                    pass
            time.sleep(0.2)
        assert back is not None, f"the tunnel did not come back within 10 s: {status(root)}"
        print(f"tunnel back {back:.1f} s after its ssh was killed")
        assert status(root)["reconnects"] == 1
        text = tandem("support", "status", "--root", str(root.base)).stdout
        assert "remote support: on, tunnel up" in text
    finally:
        off = tandem("support", "off", "--root", str(root.base))
    assert off.returncode == 0 and "the tunnel is closed" in off.stdout
    assert status(root)["on"] is False
    with pytest.raises(OSError):
        through(remote)
    assert not (root.run / "support.pid").exists()
    sentences = [e.sentence for e in read(root.state / "events.jsonl")]
    assert sentences[0].startswith("remote support switched on: tunnel to root@127.0.0.1")
    assert sentences[1].startswith("support tunnel up")
    assert sentences[2].startswith("support tunnel down")
    assert sentences[3].startswith("support tunnel up")
    assert sentences[-1] == "remote support switched off: the tunnel is closed"


def test_support_without_a_host_says_so(tmp_path: Path) -> None:
    root = Root(tmp_path)
    write_config(root)
    out = tandem("support", "on", "--root", str(root.base))
    assert out.returncode == 1
    assert "no support host is configured" in out.stderr
    assert "remote support: off (no support host" in tandem(
        "support", "status", "--root", str(root.base)).stdout  # fmt: skip
