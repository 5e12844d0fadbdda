import os
import shutil

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls made
# by the test itself (fixtures, factories) are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(autouse=True)
def _short_live_streams(settings):
    """Every incident page, list and CS desk opens a live stream. A closed tab's stream
    ends at its next heartbeat: 1 s here (15 s by default), so pages left by one step
    free their live-server threads and stream slots before the next ones need them; the
    cap itself is tested in tests/incidents/test_live.py."""
    settings.KEEL_LIVE_HEARTBEAT_SECONDS = 1
    settings.KEEL_LIVE_MAX_STREAMS = 32


@pytest.fixture
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("KEEL_REQUIRE_SERVICES") == "1":
            pytest.fail("chromium is required (KEEL_REQUIRE_SERVICES=1) but not on PATH")
        pytest.skip("chromium is not installed")
    return path


@pytest.fixture
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
