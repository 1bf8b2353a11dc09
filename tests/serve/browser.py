"""Chromium for the dashboard's browser tests: Debian's /usr/bin/chromium, driven by
Playwright for Python (its own browser builds are never downloaded).

When /usr/bin/chromium is missing and we are root with apt-get (CI), the fixture
installs Debian's `chromium` and `chromium-driver`. When it still cannot be had
the tests FAIL with the reason — a missing browser is never a silent skip.

    def test_x(page, server):                 # page: a fresh tab, 1280x900
        page.goto(server.url + "/")
        shot(page, "overview")                # tests/serve/artifacts/overview.png
"""

import os
from pathlib import Path

import pytest

import aptget

CHROMIUM = "/usr/bin/chromium"
APT_PACKAGES = ["chromium", "chromium-driver"]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().with_name("artifacts")
VIEWPORT = {"width": 1280, "height": 900}


def ensure_chromium():
    """The path of Debian's chromium, installed with apt-get if missing and we may;
    otherwise pytest.fail with why (CI or not: never a silent skip)."""
    failure = aptget.install(APT_PACKAGES, present=lambda: os.access(CHROMIUM, os.X_OK))
    if failure:
        pytest.fail(f"{CHROMIUM} is missing and could not be installed ({failure}): "
                    f"run `apt-get update && apt-get install -y {' '.join(APT_PACKAGES)}` as root", pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="module")
def chromium():
    """A headless Debian chromium under Playwright, for one test module (not the
    session: Playwright's sync API keeps an asyncio loop running in the main thread
    while it is open, and later modules' asyncio.run() would refuse to start)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the Python package playwright is missing: pip install -e '.[test]'", pytrace=False)
    path = ensure_chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium):
    """A fresh browser context and tab; `page.problems` collects JavaScript errors and
    failed requests (other than the 404s a test asks for), for tests to assert empty."""
    context = chromium.new_context(viewport=VIEWPORT, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(30_000)  # ms: a hang detector for each wait
    tab = context.new_page()
    tab.problems = []
    tab.on("pageerror", lambda e: tab.problems.append(f"page error: {e}"))
    tab.on("console", lambda m: tab.problems.append(f"console {m.type}: {m.text}")
           if m.type == "error" and "404" not in m.text else None)
    try:
        yield tab
    finally:
        context.close()


def shot(tab, name):
    """Save a full-page screenshot as tests/serve/artifacts/<name>.png; its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    return path
