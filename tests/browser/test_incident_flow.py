"""A responder drives an incident through all seven stages in a real browser, with HTMX on."""

from pathlib import Path

import pytest

from incidents.lifecycle import ORDER
from tests.factories.incidents import ServiceFactory, UserFactory

# The live server reads committed rows, hence a transactional test; serialized_rollback
# restores the seeded severities after the flush, for this test and the ones after it.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "keel-test-pass"


def _watch_responses(page) -> list:
    responses = []
    page.on("response", lambda response: responses.append((response.status, response.url)))
    return responses


@pytest.fixture
def rows(transactional_db):
    """Rows are written before the browser starts: once Playwright's loop runs, ORM calls
    from this thread get a connection of their own that outlives the test database."""
    UserFactory(username="rita", first_name="Rita", last_name="Reyes", role="responder")
    ServiceFactory(name="Checkout", slug="checkout")


def test_a_responder_drives_an_incident_through_every_stage(live_server, rows, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    responses = _watch_responses(page)
    page_errors = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/incidents/")
    assert page.locator(".who").inner_text().startswith("rita")

    page.click("nav.topnav >> text=Declare incident")
    page.fill("#id_title", "Checkout returns 500 for card payments")
    sev3 = page.locator("#id_severity option", has_text="SEV3").get_attribute("value")
    page.select_option("#id_severity", sev3)
    page.select_option("#id_services", label="Checkout")
    page.fill("#id_summary", "Card payments fail after the 14:02 deploy.")
    page.click("#declare-form button[type=submit]")
    page.wait_for_selector(".stepper")
    incident_url = page.url
    assert "Checkout returns 500" in page.locator("h1").inner_text()

    # A marker that survives only while the page is not reloaded: proves HTMX swapped.
    page.evaluate("window.keelNoReload = true")
    for stage in ORDER[1:]:
        page.select_option("#id_move-stage", stage)
        page.fill("#id_move-note", f"Reached {stage}.")
        page.click("#move-form button[type=submit]")
        page.wait_for_selector(f".step[data-stage={stage}][data-state=current]")
    assert page.evaluate("window.keelNoReload") is True

    page.click("summary:has-text('Record a decision')")
    page.fill("#id_decision-option_0", "Roll back")
    page.fill("#id_decision-option_1", "Fix forward")
    page.check("#id_decision-chosen_0")
    page.fill("#id_decision-rationale", "The previous build was known good.")
    page.click("#decision-form button[type=submit]")
    page.wait_for_selector(".decision:has-text('Roll back')")

    page.fill("#id_note-text", "Customers confirmed payments work again.")
    page.click("#note-form button[type=submit]")
    page.wait_for_selector(".event-note:has-text('Customers confirmed')")
    assert page.evaluate("window.keelNoReload") is True

    steps = page.locator(".stepper .step")
    assert steps.count() == len(ORDER)
    assert page.locator(".stepper .step time").count() == len(ORDER)
    assert page.locator(".step[data-state=skipped], .step[data-state=pending]").count() == 0
    assert page.locator("#timeline .event[data-kind=stage_moved]").count() == len(ORDER) - 1

    page.screenshot(path=str(ARTIFACTS / "incident-1280.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 800})
    page.screenshot(path=str(ARTIFACTS / "incident-375.png"), full_page=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "incident-375-top.png"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.set_viewport_size({"width": 1280, "height": 900})

    page.click("nav.tabs >> text=History")
    page.wait_for_selector(".history-table")
    stage_changes = page.locator(".history-table li[data-field=stage]")
    assert stage_changes.count() == len(ORDER) - 1
    assert "Retrospect" in stage_changes.last.inner_text()
    assert page.locator(".history-table .history-user", has_text="rita").count() > 0
    page.screenshot(path=str(ARTIFACTS / "history-1280.png"), full_page=True)

    page.goto(incident_url)
    page.click("summary:has-text('Close the incident')")
    page.click("#close-form button[type=submit]")
    page.wait_for_selector(".incident-head .state-closed")

    page.goto(f"{live_server.url}/incidents/")
    page.screenshot(path=str(ARTIFACTS / "list-1280.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 800})
    page.screenshot(path=str(ARTIFACTS / "list-375.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    failed = [(status, url) for status, url in responses if status >= 400]
    assert failed == []
    loaded = {url.rsplit("/", 1)[-1] for status, url in responses if status == 200}
    assert {"keel.css", "htmx.min.js", "keel.js"} <= loaded
    assert page_errors == []
