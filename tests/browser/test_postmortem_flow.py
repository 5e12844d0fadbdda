"""A responder writes a postmortem from the default template in a real browser, a second
user approves it, and publishing moves the incident to share."""

from pathlib import Path

import pytest

from incidents.models import Incident
from postmortems.models import ActionItem, Postmortem
from tests.factories.incidents import ServiceFactory, UserFactory
from tests.factories.postmortems import recovered_incident

# serialized_rollback: a transactional test before this one may have flushed the seeded
# severities and audiences.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "keel-test-pass"


@pytest.fixture
def rows(transactional_db):
    """Rows are written before the browser starts (see test_incident_flow.py)."""
    rita = UserFactory(username="rita", first_name="Rita", last_name="Reyes", role="responder")
    UserFactory(username="bob", first_name="Bob", last_name="Baker", role="responder")
    ServiceFactory(name="Checkout", slug="checkout")
    return recovered_incident(actor=rita, title="Checkout returns 500 for card payments")


def _login(browser, live_server, username: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list = []
    failed: list = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "response",
        lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None,
    )
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/incidents/")
    return page, errors, failed


def _csv(incident) -> str:
    start = incident.started_at.replace(microsecond=0)
    lines = ["time,value"]
    for minute in range(-10, 30):
        from datetime import timedelta

        at = start + timedelta(minutes=minute)
        value = 0.2 if minute < 0 or minute > 20 else 14.0
        lines.append(f"{at.isoformat().replace('+00:00', 'Z')},{value}")
    return "\n".join(lines)


def test_a_postmortem_is_written_reviewed_and_published(live_server, rows, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    incident = rows
    page, errors, failed = _login(browser, live_server, "rita")

    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    page.click("#start-postmortem")
    page.wait_for_selector("#section-summary")
    assert page.locator(".pm-section").count() == 14  # the default sections, Recurrence last
    editor_url = page.url
    page.evaluate("window.keelNoReload = true")

    # Summary: Markdown with a preview; a script does not survive.
    summary = page.locator("#pm-summary-text")
    summary.fill("Card payments failed for **22 minutes** after a deploy. <script>x()</script>")
    summary.press("Tab")
    page.wait_for_selector("#live-summary .prose strong:has-text('22 minutes')")
    assert page.locator("#live-summary script").count() == 0

    # Metrics: a row with a pasted CSV series; the chart appears with threshold and window.
    metrics = page.locator("#section-metrics")
    metrics.locator("input[name='r-0-name']").fill("5xx rate")
    metrics.locator("input[name='r-0-unit']").fill("%")
    metrics.locator("input[name='r-0-threshold']").fill("5")
    metrics.locator("textarea[name='r-0-series']").fill(_csv(incident))
    metrics.locator("textarea[name='r-0-series']").press("Tab")
    page.wait_for_selector("#section-metrics svg.metric-chart")
    chart = page.locator("#section-metrics svg.metric-chart")
    assert chart.get_attribute("data-points") == "40"
    assert chart.locator(".chart-threshold").count() == 1
    assert chart.locator(".chart-window").count() == 1

    # Remediation: pick the other option, with a reason (reason first, then the choice).
    remediations = page.locator("#section-remediations")
    remediations.locator("textarea[name='r-1-reason'], input[name='r-1-reason']").fill(
        "A one-line fix was ready and tested; rolling back would drop the migration."
    )
    remediations.locator("textarea[name='r-1-reason'], input[name='r-1-reason']").press("Tab")
    page.wait_for_selector("#status-remediations .pm-saved")
    before = page.locator("#status-remediations .pm-saved").get_attribute("data-saved-version")
    remediations.locator("input[name='chosen'][value='1']").check()
    page.wait_for_function(
        "v => { const s = document.querySelector('#status-remediations .pm-saved');"
        " return s && Number(s.dataset.savedVersion) > Number(v); }",
        arg=before,
    )

    # Action items: a short-term and a long-term fix, each with an owner and a due date.
    for title, term, owner in [
        ("Alert on 5xx > 5%", "short", "rita"),
        ("Canary deploys", "long", "bob"),
    ]:
        items = page.locator("#section-action_items")
        new_row = items.locator("tr.pm-row-new")
        new_row.locator("input[name$='-title']").fill(title)
        new_row.locator("select[name$='-term']").select_option(term)
        new_row.locator("input[name$='-owner']").fill(owner)
        new_row.locator("input[name$='-due_date']").fill("2030-01-31")
        new_row.locator("input[name$='-due_date']").press("Tab")
        page.wait_for_selector(f"#section-action_items input[value='{title}']")
    page.wait_for_function(
        "document.querySelectorAll('#section-action_items tr.pm-row').length === 3"
    )
    assert page.evaluate("window.keelNoReload") is True
    page.screenshot(path=str(ARTIFACTS / "postmortem-editor-1280.png"), full_page=True)

    # Bob edits the summary meanwhile; Rita's next summary autosave is told, not applied.
    bob_page, bob_errors, bob_failed = _login(browser, live_server, "bob")
    bob_page.goto(editor_url)
    bob_page.locator("#pm-summary-text").fill("Bob's summary.")
    bob_page.locator("#pm-summary-text").press("Tab")
    bob_page.wait_for_selector("#status-summary .pm-saved")
    summary.fill("Rita's late edit.")
    summary.press("Tab")
    conflict = page.wait_for_selector("#section-summary [data-conflict]")
    assert "bob" in conflict.inner_text()
    assert page.locator("#pm-summary-text").input_value() == "Rita's late edit."  # kept
    assert failed == [(409, f"{editor_url}sections/summary/")]
    failed.clear()
    page.goto(editor_url)
    assert page.locator("#pm-summary-text").input_value() == "Bob's summary."

    # Submit for review, naming bob.
    page.select_option("#id_reviewers", ["bob"])
    page.click("#submit-form button[type=submit]")
    page.wait_for_selector("#pm-status:has-text('In review')")
    assert errors == [] and failed == [], (errors, failed)

    # Bob approves.
    bob_page.goto(editor_url)
    bob_page.fill("#id_comment", "Clear and complete.")
    bob_page.click("#review-form button[value=approve]")
    bob_page.wait_for_selector(".pm-review-approve")
    assert bob_errors == [] and bob_failed == [], (bob_errors, bob_failed)

    # Rita publishes: the incident reaches share.
    page.goto(editor_url)
    page.click("#publish-form button[type=submit]")
    page.wait_for_selector("#pm-status:has-text('Published')")
    page.wait_for_selector("#incident-stage[data-stage=share]")
    assert page.locator(".pm-form").count() == 0  # published: read-only
    page.screenshot(path=str(ARTIFACTS / "postmortem-published-1280.png"), full_page=True)

    page.click("nav.tabs >> text=Print view")
    page.wait_for_selector("body.pm-print svg.metric-chart")
    page.screenshot(path=str(ARTIFACTS / "postmortem-print.png"), full_page=True)
    pdf = page.pdf(path=str(ARTIFACTS / "postmortem-a4.pdf"), prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF") and b"/MediaBox [0 0 594.9" in pdf  # A4: 595 x 842 pt

    page.goto(editor_url)
    page.set_viewport_size({"width": 375, "height": 800})
    page.screenshot(path=str(ARTIFACTS / "postmortem-375.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert errors == [] and failed == [], (errors, failed)

    postmortem = Postmortem.objects.get(incident=incident)
    assert postmortem.status == Postmortem.Status.PUBLISHED
    assert Incident.objects.get(pk=incident.pk).stage == "share"
    chosen = postmortem.remediation_options.get(chosen=True)
    assert chosen.title == "Fix forward" and "one-line fix" in chosen.reason
    assert sorted(ActionItem.objects.values_list("term", "owner__username")) == [
        ("long", "bob"),
        ("short", "rita"),
    ]
    assert postmortem.sections.get(key="summary").content["text"] == "Bob's summary."
