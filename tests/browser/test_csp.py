"""Under the Content-Security-Policy, real Chromium reports no violation on the main
pages, HTMX still swaps, the postmortem editor still previews, Swagger UI renders."""

import pytest

from tests.factories.incidents import ServiceFactory, UserFactory
from tests.factories.postmortems import recovered_incident

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "keel-test-pass"
# Runs before any page script, outside the page's CSP (Playwright injects it).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@pytest.fixture(autouse=True)
def snapshot_dir(tmp_path, settings):
    """The status page publishes a snapshot when there is none: into a temporary
    directory, not the test data dir whose snapshot age /readyz reports."""
    settings.STATUSPAGE_SNAPSHOT_DIR = tmp_path / "snapshot"


@pytest.fixture
def rows(transactional_db):
    """Rows are written before the browser starts (see tests/browser/test_incident_flow.py)."""
    rita = UserFactory(username="rita", role="responder")
    UserFactory(username="ada", role="admin")
    ServiceFactory(name="Checkout", slug="checkout")
    return recovered_incident(actor=rita, title="Checkout returns 500 for card payments")


def test_no_csp_violation_on_the_main_pages(live_server, rows, browser):
    incident = rows
    page = browser.new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    seen: list[str] = []

    def check(label: str) -> None:
        violations = page.evaluate("window.__cspViolations")
        seen.append(label)
        assert violations == [], (label, violations)

    page.goto(f"{live_server.url}/login/")
    check("login")
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/incidents/")
    check("incident list")
    assert page.evaluate("typeof window.htmx") == "object"

    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    page.evaluate("window.keelNoReload = true")
    page.fill("#id_note-text", "Checked under the CSP.")
    page.click("#note-form button[type=submit]")
    page.wait_for_selector(".event-note:has-text('Checked under the CSP')")
    assert page.evaluate("window.keelNoReload") is True  # HTMX swapped, no reload
    check("incident page")

    page.click("#start-postmortem")
    page.wait_for_selector("#section-summary")
    summary = page.locator("#pm-summary-text")
    summary.fill("Card payments failed for **22 minutes**.")
    summary.press("Tab")
    page.wait_for_selector("#live-summary .prose strong:has-text('22 minutes')")
    check("postmortem editor")

    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info")
    check("api docs")

    for path in ["/status/", "/status/subscribe/", "/status/history/"]:
        page.goto(f"{live_server.url}{path}")
        check(path)

    page = browser.new_context().new_page()  # a fresh session for the admin
    page.add_init_script(RECORD_VIOLATIONS)
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    page.goto(f"{live_server.url}/admin/incidents/incident/")
    check("admin")

    assert [text for text in console if "Content Security Policy" in text] == []
    assert errors == []
    assert len(seen) == 9
