"""The reports page in Chromium: open it, filter by a service, download a table as
CSV; screenshots at 1366 px and 375 px (nothing scrolls sideways on the phone)."""

import csv
import io
import os
from pathlib import Path

import pytest

from tests.factories.incidents import UserFactory
from tests.reports import fixtures

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "keel-test-pass"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 375, "height": 800}


@pytest.fixture
def rows(transactional_db):
    rita = UserFactory(username="rita", role="responder")
    rita.set_password(PASSWORD)
    rita.save()
    return fixtures.build(rita)


def _shots() -> Path:
    path = Path(os.environ.get("KEEL_SCREENSHOT_DIR") or "/tmp/keel-screenshots-reports")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _login(browser, live_server, viewport):
    page = browser.new_context(viewport=viewport, accept_downloads=True).new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    return page


def test_open_filter_and_download(live_server, rows, browser):
    page = _login(browser, live_server, DESKTOP)
    page.goto(f"{live_server.url}/reports/?period=all")
    services = page.locator("#table-incidents_by_service")
    assert services.locator("tbody tr").count() == 2
    assert services.locator("svg.report-chart rect").count() == 2
    page.screenshot(path=str(_shots() / "reports-1366.png"), full_page=False)

    page.select_option("#id_service", "search")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(lambda url: "service=search" in url)
    assert services.locator("tbody tr").count() == 1
    assert services.locator("tbody td").first.inner_text() == "Search"

    with page.expect_download() as download_info:
        services.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename == "keel-report-incidents_by_service.csv"
    content = Path(download.path()).read_text()
    assert list(csv.reader(io.StringIO(content))) == [["Service", "Incidents"], ["Search", "1"]]

    phone = _login(browser, live_server, PHONE)
    phone.goto(f"{live_server.url}/reports/?period=all")
    phone.screenshot(path=str(_shots() / "reports-375.png"), full_page=False)
    phone.locator("#table-time_to_detect").screenshot(path=str(_shots() / "reports-375-table.png"))
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
