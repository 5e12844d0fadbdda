"""In Chromium: similar past incidents appear as a title is typed on the declare form
(HTMX, debounced) and on the incident page; the postmortem shows its quality
checklist; an action item's evidence page links a pasted series. At 1366 and 375 px
nothing scrolls sideways."""

import os
from datetime import UTC, datetime, timedelta

import pytest

from postmortems import services
from tests.factories.incidents import ServiceFactory, UserFactory
from tests.factories.postmortems import recovered_incident

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
PASSWORD = "keel-test-pass"
# Set to a directory to keep the screenshots (1366 and 375 px wide).
SCREENSHOTS = os.environ.get("KEEL_SCREENSHOT_DIR", "")
VIEWPORTS = {"1366": {"width": 1366, "height": 900}, "375": {"width": 375, "height": 800}}


@pytest.fixture
def rows(transactional_db):
    """Written before the browser starts (see test_incident_flow.py for why)."""
    rita = UserFactory(username="rita", first_name="Rita", last_name="Reyes", role="responder")
    rita.set_password(PASSWORD)
    rita.save()
    checkout = ServiceFactory(name="Checkout", slug="checkout")
    earlier = recovered_incident(actor=rita, title="Checkout payment timeouts at the gateway")
    earlier.services.set([checkout])
    earlier.failure_patterns = ["dependency"]
    earlier.save(update_fields=["failure_patterns"])
    pm = services.postmortem_start(incident=earlier, actor=rita)
    for title, status in (("Circuit breaker on the gateway", "done"), ("Alert on p99", "open")):
        services.action_item_create(
            postmortem=pm,
            actor=rita,
            data={
                "title": title,
                "status": status,
                "kind": "prevent",
                "tracker_url": "https://acme.atlassian.net/browse/OPS-142",
            },
        )
    now = recovered_incident(actor=rita, title="Checkout payments timing out again")
    now.services.set([checkout])
    current = services.postmortem_start(incident=now, actor=rita)
    return {"earlier": earlier, "now": now, "postmortem": current, "item": pm.action_items.first()}


def _shot(target, name: str, viewport: str) -> None:
    """A page (whole) or a locator (that element) as a PNG, when SCREENSHOTS is set."""
    if not SCREENSHOTS:
        return
    path = f"{SCREENSHOTS}/{name}-{viewport}.png"
    if hasattr(target, "goto"):
        target.screenshot(path=path, full_page=True)
    else:
        target.screenshot(path=path)


def _series_csv(days: int) -> str:
    end = datetime(2026, 3, 20, tzinfo=UTC)
    return "\n".join(
        f"{(end - timedelta(hours=h)).isoformat()},0.2" for h in range(days * 24, -1, -1)
    )


def test_similar_incidents_quality_and_evidence_in_chromium(live_server, rows, browser):
    for name, viewport in VIEWPORTS.items():
        page = browser.new_page(viewport=viewport)
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", "rita")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/incidents/")
        widths = {}

        page.goto(f"{live_server.url}/incidents/new/")
        page.type("#id_title", "checkout payment timeout", delay=20)
        suggestion = page.locator("#similar-suggestions .similar-item").first
        suggestion.wait_for(timeout=15_000)
        assert "Checkout payment timeouts at the gateway" in suggestion.inner_text()
        assert "1 of 2 action items done" in suggestion.inner_text()
        widths["declare"] = page.evaluate("document.documentElement.scrollWidth")
        _shot(page, "declare-similar", name)

        page.goto(f"{live_server.url}/incidents/{rows['now'].pk}/")
        page.locator("#similar-incidents .similar-item").first.wait_for(timeout=15_000)
        panel = page.locator("#similar-incidents")
        assert "Checkout payment timeouts at the gateway" in panel.inner_text()
        assert "Chosen to fix it: Roll back" in panel.inner_text()
        widths["incident"] = page.evaluate("document.documentElement.scrollWidth")
        panel.scroll_into_view_if_needed()
        _shot(page, "incident-similar", name)

        page.goto(f"{live_server.url}/postmortems/{rows['postmortem'].pk}/")
        checklist = page.locator("#quality-check")
        assert "Impact quantified" in checklist.inner_text()
        prefilled = page.locator("#section-recurrence").evaluate(
            "el => [...el.querySelectorAll('input, textarea')].map(i => i.value).join(' | ')"
        )
        assert "Checkout payment timeouts at the gateway" in prefilled
        widths["postmortem"] = page.evaluate("document.documentElement.scrollWidth")
        _shot(page.locator("#pm-workflow"), "postmortem-quality", name)
        _shot(page.locator("#section-recurrence"), "postmortem-recurrence", name)

        page.goto(f"{live_server.url}/postmortems/action-items/{rows['item'].pk}/evidence/")
        page.fill("#id_metric", "gateway p99 (s)")
        page.fill("#id_threshold", "0.5")
        page.fill("#id_series", _series_csv(8))
        page.click("#evidence-form button[type=submit]")
        page.wait_for_selector("#evidence-result .evidence-verified")
        widths["evidence"] = page.evaluate("document.documentElement.scrollWidth")
        _shot(page, "evidence", name)

        page.goto(f"{live_server.url}/postmortems/action-items/")
        assert "Jira OPS-142" in page.locator("#action-item-table").inner_text()
        widths["action-items"] = page.evaluate("document.documentElement.scrollWidth")
        _shot(page, "action-items", name)
        assert widths == dict.fromkeys(widths, viewport["width"]), widths
        page.close()
