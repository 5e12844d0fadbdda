"""The History and Communications tabs a page at a time in Chromium (issue 17): "Next"
walks the pages by the API's cursor, "Back to the start" returns, the page says where
the reader is, a Replay answered by HTMX keeps the reader's page, and both widths fit
(screenshots in $KEEL_SCREENSHOT_DIR, else the test's tmp dir)."""

import os
from pathlib import Path

import pytest

from incidents import history
from incidents import services as incident_services
from notifications import selectors
from notifications import services as notification_services
from notifications.models import Delivery, Destination
from tests.factories.incidents import UserFactory, severity
from tests.factories.notifications import DestinationFactory, audience

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "keel-test-pass"
PAGE = 10  # rows a page here, so that a few dozen changes and deliveries make pages


@pytest.fixture
def incident(transactional_db, monkeypatch):
    monkeypatch.setattr(history, "PAGE_SIZE", PAGE)
    monkeypatch.setattr(selectors, "DELIVERIES_PAGE", PAGE)
    rita = UserFactory(username="rita", first_name="Rita", last_name="Reyes", role="responder")
    rita.set_password(PASSWORD)
    rita.save()
    for n in range(10):
        DestinationFactory(
            audience=audience("cs"),
            kind=Destination.Kind.EMAIL,
            name=f"CS list {n:02}",
            target=f"cs{n}@example.test",
        )
    incident = incident_services.incident_declare(
        title="Checkout 502s", severity=severity("SEV3"), actor=rita
    )
    for n in range(24):
        incident_services.incident_update(
            incident=incident, actor=rita, data={"title": f"Checkout 502s, take {n}"}
        )
    for n in range(3):
        notification_services.update_post(
            incident=incident, message=f"Rolling back, step {n}.", actor=rita, audiences=["cs"]
        )
    # One delivery on the second page that did not arrive (Replay can help).
    second_page = list(
        selectors.deliveries_for(incident=incident).order_by(*selectors.DELIVERIES_ORDER)
    )[PAGE]
    Delivery.objects.filter(pk=second_page.pk).update(
        status=Delivery.Status.DEAD, attempts=5, last_error="Connection reset by peer"
    )
    return incident


def _log_in(page, live_server) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/incidents/")


def _position(page) -> str:
    """Where the page says it is, its en dash written "-"."""
    return page.locator("[data-position]").inner_text().replace("\N{EN DASH}", "-")


def _phone(page, shots: Path, name: str) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, name
    page.screenshot(path=str(shots / f"{name}-375.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 900})


def test_history_and_communications_walk_their_pages(live_server, incident, browser, tmp_path):
    shots = Path(os.environ.get("KEEL_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    entries = len(history.incident_history(incident=incident))
    deliveries = selectors.deliveries_for(incident=incident).count()  # the declare's too
    assert 2 * PAGE < entries < 3 * PAGE
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    _log_in(page, live_server)

    page.goto(f"{live_server.url}/incidents/{incident.pk}/history/")
    assert _position(page) == "Changes 1-10 of 10+"
    assert page.locator(".history-table tbody tr").count() == PAGE
    page.click("a[rel=next]")
    page.wait_for_url("**cursor=**")
    assert _position(page) == "Changes 11-20 of 20+"
    page.screenshot(path=str(shots / "history-page-2-1366.png"), full_page=True)
    _phone(page, shots, "history-page-2")
    page.click("a[rel=next]")
    page.wait_for_url("**start=21**")
    assert _position(page) == f"Changes 21-{entries} of {entries}"
    assert page.locator("a[rel=next]").count() == 0
    page.click("text=Back to the start")
    page.wait_for_url(f"{live_server.url}/incidents/{incident.pk}/history/")
    assert _position(page) == "Changes 1-10 of 10+"

    page.goto(f"{live_server.url}/incidents/{incident.pk}/communications/")
    assert _position(page) == f"Deliveries 1-10 of {deliveries}"
    # The banner names the delivery on page 2: it judges every delivery, not the page's.
    assert page.locator("#communications-banner [data-problem]").count() == 1
    page.screenshot(path=str(shots / "communications-page-1-1366.png"), full_page=True)
    page.click("a[rel=next]")
    page.wait_for_url("**cursor=**")
    assert _position(page) == f"Deliveries 11-20 of {deliveries}"
    first_row = page.locator(".deliveries-table tbody tr").first
    assert first_row.get_attribute("data-status") == "dead"
    first_row.locator("button", has_text="Replay").click()
    page.wait_for_selector("[data-notice]")
    assert "Replaying the delivery to CS team: CS list" in page.inner_text("[data-notice]")
    # The region HTMX swapped in is the reader's page, not the first.
    assert _position(page) == f"Deliveries 11-20 of {deliveries}"
    assert page.locator(".deliveries-table tbody tr").first.get_attribute("data-status") != "dead"
    page.screenshot(path=str(shots / "communications-page-2-1366.png"), full_page=True)
    _phone(page, shots, "communications-page-2")
