"""Every page renders on a real server, for a logged-in operator (MG-2)."""

from __future__ import annotations

from tests.web.conftest import Node

PAGES = ("/", "/network", "/notification", "/passwords", "/updates", "/status")


def test_every_page_renders(cluster: dict[str, Node]) -> None:
    node1 = cluster["node1"]
    for path in PAGES:
        response = node1.client.get(path)
        assert response.status_code == 200, (path, response.text[-2000:], node1.log()[-2000:])
        assert "<main>" in response.text


def test_home_shows_both_nodes_versions(cluster: dict[str, Node]) -> None:
    page = cluster["node1"].client.get("/").text
    for node in ("node1", "node2"):
        for key in ("hostname", "kernel", "hardware_id", "container_runtime", "tandem"):
            assert f'data-node="{node}" data-key="{key}"' in page
    assert "not reachable" not in page
