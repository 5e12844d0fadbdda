"""The incident list's keyset navigation in a real browser: Older and Newer walk the
pages by cursor, the count says so when it is capped, both widths fit."""

from pathlib import Path

import pytest

from tests.factories.incidents import ServiceFactory, UserFactory, incidents_bulk

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "keel-test-pass"


@pytest.fixture
def rows(transactional_db):
    rita = UserFactory(username="rita", role="responder")
    incidents_bulk(60, created_by=rita, services=[ServiceFactory(name="Checkout")])


def test_older_and_newer_walk_the_list_by_cursor(live_server, rows, browser, settings):
    settings.KEEL_LIST_COUNT_CAP = 55
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/incidents/")

    assert page.locator(".result-count").inner_text() == "55+ incidents"
    first_rows = page.locator(".incident-table tbody tr").count()
    newest = page.locator(".incident-table tbody tr td.num").first.text_content()
    page.click("a[rel=next]")
    page.wait_for_url("**cursor=**")
    assert first_rows == 50 and page.locator(".incident-table tbody tr").count() == 10
    assert page.locator("a[rel=next]").count() == 0
    page.screenshot(path=str(ARTIFACTS / "list-older-1366.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 800})
    page.screenshot(path=str(ARTIFACTS / "list-older-375.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    page.click("a[rel=prev]")
    page.wait_for_selector(".incident-table")
    assert page.locator(".incident-table tbody tr").count() == 50
    assert page.locator(".incident-table tbody tr td.num").first.text_content() == newest
