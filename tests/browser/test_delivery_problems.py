"""A failed delivery is seen where the responder is: a marker on the incident's row in
the list, and on its Overview the reason in plain words with what fixes it, at
1366 px and at 375 px (screenshots in $KEEL_SCREENSHOT_DIR, else the test's tmp dir)."""

import os
from pathlib import Path

import pytest
from django.utils import timezone

from incidents import services as incident_services
from notifications import engine, outbox
from notifications import services as notification_services
from notifications.channels.base import Outcome, SendResult
from notifications.models import ChannelPause, Destination
from tests.factories.incidents import UserFactory, severity
from tests.factories.notifications import DestinationFactory, audience

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "keel-test-pass"


@pytest.fixture
def rows(transactional_db):
    rita = UserFactory(username="rita", first_name="Rita", last_name="Reyes", role="responder")
    rita.set_password(PASSWORD)
    rita.save()
    DestinationFactory(
        audience=audience("cs"), kind=Destination.Kind.EMAIL, name="CS list", target="cs@x.test"
    )
    broken = incident_services.incident_declare(
        title="Checkout 502s", severity=severity("SEV4"), actor=rita
    )
    incident_services.incident_declare(  # a quiet one: no marker
        title="Search is slow", severity=severity("SEV4"), actor=rita
    )
    update = notification_services.update_post(
        incident=broken, message="Rolling back.", actor=rita, audiences=["cs"]
    )
    delivery, _ = engine.claim(outbox.DELIVERIES, update.deliveries.get().pk)
    engine.record(
        outbox.DELIVERIES,
        delivery.pk,
        SendResult(Outcome.PERMANENT, error="Recipients refused: {'cs@x.test'}"),
        attempt=delivery.attempts,
    )
    ChannelPause.objects.create(kind="slack", reason="invalid_auth", paused_at=timezone.now())
    return broken


def test_the_list_marks_the_incident_and_its_overview_says_what_fixes_it(
    live_server, rows, browser, tmp_path
):
    broken = rows
    shots = Path(os.environ.get("KEEL_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/incidents/")

    marker = page.locator("tr", has_text="Checkout 502s").locator("[data-delivery-problem]")
    assert marker.inner_text().startswith("⚠ 1 delivery not sent")
    assert "The mail server refused it for good" in marker.get_attribute("title")
    quiet_row = page.locator("tr", has_text="Search is slow")
    assert quiet_row.locator("[data-delivery-problem]").count() == 0
    page.screenshot(path=str(shots / "incident-list-1366.png"), full_page=True)

    marker.click()
    page.wait_for_url(f"{live_server.url}/incidents/{broken.pk}/#communications-banner")
    problem = page.locator("#communications-banner [data-problem='dead']")
    assert "CS team · CS list" in problem.inner_text()
    assert "The mail server refused it for good" in problem.inner_text()
    assert "fix the email list address" in problem.locator("[data-action]").inner_text()
    # Replay cannot help until the address is fixed, so none is offered.
    assert problem.locator("button", has_text="Replay").count() == 0
    assert "Slack channel is paused: invalid_auth" in page.inner_text("#communications-banner")
    page.locator("#communications-banner").screenshot(path=str(shots / "overview-1366.png"))

    page.set_viewport_size({"width": 375, "height": 800})
    for path, name in [
        ("/incidents/", "incident-list-375"),
        (f"/incidents/{broken.pk}/", "overview-375"),
    ]:
        page.goto(f"{live_server.url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    assert page.locator("#communications-banner [data-problem='dead']").is_visible()
