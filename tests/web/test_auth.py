"""The one login (MG-1, OP-4): Apache's real htpasswd writes and verifies the file; wrong
guesses are throttled; a changed password ends older sessions."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.web.conftest import PASSWORD, Node, wait_for


def htpasswd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["htpasswd", *args], capture_output=True, text=True, check=False)


def test_a_file_written_by_htpasswd_logs_in(cluster: dict[str, Node]) -> None:
    node = cluster["node2"]
    path = node.etc / "secrets" / "htpasswd"
    original = path.read_text()
    try:
        # As root would, seed 7.1: htpasswd -B FILE admin (here -b to give it the password).
        assert htpasswd("-B", "-b", str(path), "admin", "reset by root 7.1").returncode == 0
        assert path.read_text().startswith("admin:$2y$")
        browser = node.new_client()
        fresh = Node(node.name, node.root, node.etc, node.port)
        fresh.client = browser
        assert fresh.login("reset by root 7.1").status_code == 200
        assert browser.get("/network").status_code == 200
        # The operator's session from before the reset has ended.
        assert node.client.get("/api/network").status_code == 401
        assert fresh.login(PASSWORD).status_code == 401
    finally:
        path.write_text(original)
        assert node.login().status_code == 200


def test_a_password_set_on_the_passwords_page_verifies_with_htpasswd(
    own_cluster: dict[str, Node],
) -> None:
    node1, node2 = own_cluster["node1"], own_cluster["node2"]
    body = {"target": "admin", "password": "new secret 42", "repeat": "new secret 42"}
    reply = node1.send("POST", "/api/passwords", body)
    assert reply.status_code == 200, reply.text
    assert reply.json()["complete"] is True
    for node in (node1, node2):
        path = str(node.etc / "secrets" / "htpasswd")
        assert htpasswd("-vb", path, "admin", "new secret 42").returncode == 0
        assert htpasswd("-vb", path, "admin", PASSWORD).returncode != 0
    # This browser stays logged in; node2's old session has ended.
    assert node1.client.get("/api/network").status_code == 200
    assert node2.client.get("/api/network").status_code == 401
    assert node2.login("new secret 42").status_code == 200


def test_wrong_guesses_are_throttled(own_cluster: dict[str, Node]) -> None:
    node = own_cluster["node1"]
    codes = [node.login("wrong guess").status_code for _ in range(7)]
    assert codes[:5] == [401] * 5
    assert 429 in codes[5:]
    throttled = node.login(PASSWORD)  # even the right password waits its turn
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    wait_for(lambda: node.login(PASSWORD).status_code == 200, timeout=10, interval=0.5)


def test_logout_ends_the_session(own_cluster: dict[str, Node]) -> None:
    node = own_cluster["node1"]
    assert node.send("POST", "/api/logout").status_code == 200
    assert node.client.get("/api/network").status_code == 401
    page = node.client.get("/network")
    assert page.status_code == 303


def test_the_secrets_keep_their_mode(own_cluster: dict[str, Node]) -> None:
    node = own_cluster["node1"]
    node.send("POST", "/api/passwords", {"target": "admin", "password": "another one 7",
                                          "repeat": "another one 7"})  # fmt: skip
    assert Path(node.etc / "secrets" / "htpasswd").stat().st_mode & 0o777 == 0o600
