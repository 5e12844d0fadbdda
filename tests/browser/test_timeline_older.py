"""A long timeline in a real browser: the page shows the latest events, "Show older
events" appends the ones before them (HTMX), and an action or a live refresh keeps
as many events as the reader loaded. Waits are on the DOM, never a fixed sleep."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from incidents import services
from incidents.models import TimelineEvent
from incidents.presenters import TIMELINE_PAGE
from tests.factories.incidents import TimelineEventFactory, UserFactory, severity

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "keel-test-pass"
SCREENSHOTS = os.environ.get("KEEL_SCREENSHOT_DIR", "")
WAIT_MS = 15_000
EVENTS = "#timeline > li[data-live-item]"


@pytest.fixture
def incident(transactional_db, settings):
    settings.KEEL_LIVE_POLL_SECONDS = 1
    rita = UserFactory(username="rita", first_name="Rita", last_name="Reyes", role="responder")
    incident = services.incident_declare(
        title="Checkout returns 500 for card payments", severity=severity("SEV2"), actor=rita
    )
    start = timezone.now() - timedelta(hours=3)
    TimelineEvent.objects.bulk_create(
        TimelineEventFactory.build(
            incident=incident,
            actor=rita,
            text=f"Checked gateway shard {number}: errors still elevated.",
            occurred_at=start + timedelta(seconds=30 * number),
        )
        for number in range(120)
    )
    return incident


def test_show_older_appends_events_and_an_action_keeps_them(live_server, incident, browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/incidents/")
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")

    assert page.locator(EVENTS).count() == TIMELINE_PAGE
    page.click("text=Show older events")
    page.locator(EVENTS).nth(2 * TIMELINE_PAGE - 1).wait_for(timeout=WAIT_MS)
    oldest = page.locator(EVENTS).last.inner_text()
    assert "shard 21:" in oldest  # the declare (now), then notes 119 down to 21

    # An HTMX action answers with the live region: it asks for as many events again.
    page.fill("#id_note-text", "Rolled back to 1.41.")
    page.click("#note-form button[type=submit]")
    page.wait_for_selector(".event-note:has-text('Rolled back to 1.41.')", timeout=WAIT_MS)
    assert page.locator(EVENTS).count() == 2 * TIMELINE_PAGE

    # A change made elsewhere: the live refresh keeps the loaded events too.
    services.note_add(incident=incident, text="From another tab.", actor=incident.created_by)
    page.wait_for_selector(".event-note:has-text('From another tab.')", timeout=WAIT_MS)
    assert page.locator(EVENTS).count() == 2 * TIMELINE_PAGE
    assert errors == []

    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        for width in (1366, 375):
            page.set_viewport_size({"width": width, "height": 900})
            more = page.locator(".timeline-more")
            more.scroll_into_view_if_needed()
            page.screenshot(path=str(Path(SCREENSHOTS) / f"timeline-older-{width}.png"))
    context.close()
