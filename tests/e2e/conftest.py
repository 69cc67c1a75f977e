"""The lab as `make demo` brings it up, and Debian's Chromium driven by Playwright.

The addresses and the login are read from what `tandem lab up --demo` prints (the command
`make demo` runs), so the test reaches the cluster exactly as the guide tells an operator.
Chromium is the system's (never a downloaded build), headless, without any background
networking, with a fresh profile per run.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from tandem.lab.lab import default_subnet
from tandem.lab.sweep import sweep
from tandem.lab.topology import LabSpec
from tests.conftest import TEST_LAB, tandem

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SCREENSHOTS = os.environ.get("TANDEM_SCREENSHOTS")


@dataclass(frozen=True)
class Demo:
    """What the guide printed: each node's web address, and the login."""

    urls: dict[str, str]
    user: str
    password: str


def parse_guide(text: str) -> Demo:
    section = text.split("Cluster Management (web)", 1)[1]
    urls = dict(re.findall(r"^\s+(node[12])\s+(https://\S+)", section, re.MULTILINE))
    login = re.search(r"^\s+login\s+(\S+) / (\S+)", section, re.MULTILINE)
    assert login is not None and set(urls) == {"node1", "node2"}, text
    return Demo({k: v.rstrip("/") for k, v in urls.items()}, login.group(1), login.group(2))


@pytest.fixture(scope="package")  # closed before the next package: its loop and lab go
def demo() -> Iterator[Demo]:
    sweep(LabSpec(TEST_LAB, default_subnet(TEST_LAB)))  # what a killed earlier run left
    result = tandem("lab", "up", "--demo")
    try:
        assert result.returncode == 0, result.stderr
        guide = parse_guide(result.stdout)
        for url in guide.urls.values():
            wait_until_serving(url)
        yield guide
    finally:
        if not os.environ.get("TANDEM_KEEP_LAB"):  # kept to look into a failure
            tandem("lab", "down")


def wait_until_serving(url: str, timeout: float = 60.0) -> None:
    """The nodes' supervisors start the web a moment after the lab is up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(
                url + "/login", verify=False, timeout=2
            )  # the cluster certificate is self-signed
            return
        except httpx.HTTPError:
            assert time.monotonic() < deadline, f"{url} does not answer"
            time.sleep(0.3)


@pytest.fixture(scope="package")  # closed before the next package: its loop and lab go
def browser() -> Iterator[BrowserContext]:
    with sync_playwright() as p, tempfile.TemporaryDirectory(prefix="tandem-chromium-") as profile:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            ignore_https_errors=True,  # the cluster's own certificate, accepted as an operator does
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    page = browser.new_page()
    try:
        yield page
    finally:
        page.close()


def shoot(page: Page, name: str) -> None:
    """A full-page screenshot into $TANDEM_SCREENSHOTS (make screenshots), if set."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)
