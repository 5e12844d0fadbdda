"""A responder schedules a maintenance with a description in a real browser; the
beat's function starts and completes it at the window; subscribers get each
message (locmem email backend); the status page shows it with its text."""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from statuspage import maintenance_beat, snapshot, subscriber_outbox, tasks
from statuspage.models import ScheduledMaintenance
from statuspage.subscriber_models import Subscriber, SubscriberNotification
from tests.factories.incidents import UserFactory
from tests.factories.statuspage import ComponentFactory, ComponentGroupFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
PASSWORD = "keel-test-pass"
DESCRIPTION = "We upgrade the database. Checkout may pause for up to a minute."


@pytest.fixture
def rows(transactional_db, tmp_path, settings, monkeypatch):
    settings.STATUSPAGE_SNAPSHOT_DIR = tmp_path / "snapshot"
    # No worker here: the test sends the subscribers' messages and publishes itself.
    for task in (tasks.statuspage_publish_snapshot_task, tasks.subscriber_notification_send_task):
        monkeypatch.setattr(task, "apply_async", lambda *a, **k: None)
    UserFactory(username="rita", role="responder")
    shop = ComponentGroupFactory(name="Shop", position=1)
    ComponentFactory(slug="checkout", name="Checkout", group=shop, position=1)
    ComponentFactory(slug="search", name="Search", group=shop, position=2)
    Subscriber.objects.create(
        kind="email", email="customer@example.test", confirmed_at=timezone.now()
    )


def _deliver_and_publish() -> list[str]:
    """What the worker would do: send pending subscriber messages, publish the page."""
    for notification_id in SubscriberNotification.objects.filter(status="pending").values_list(
        "pk", flat=True
    ):
        subscriber_outbox.notification_attempt(notification_id)
    snapshot.snapshot_publish()
    return [message.subject for message in mail.outbox]


def _summary(page, live_server, after: str) -> dict:
    url = f"{live_server.url}/api/v2/summary.json?after={after}"
    return json.loads(page.request.get(url).body())


def test_schedule_from_the_web_then_the_beat_starts_and_completes_it(live_server, rows, browser):
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/incidents/")

    page.click("nav.topnav >> text=Maintenance")
    page.click("text=Schedule maintenance")
    start = (timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    page.fill("#id_name", "Database upgrade")
    page.fill("#id_body", DESCRIPTION)
    page.get_by_label("Checkout — now operational").check()
    page.fill("#id_scheduled_for", f"{start:%Y-%m-%dT%H:%M}")
    page.fill("#id_scheduled_until", f"{start + timedelta(hours=1):%Y-%m-%dT%H:%M}")
    page.select_option("#id_remind_minutes_before", "60")
    page.click("#maintenance-form button[type=submit]")
    page.wait_for_selector("text=Maintenance scheduled.")
    assert DESCRIPTION in page.locator("#updates").inner_text()

    maintenance = ScheduledMaintenance.objects.get()
    assert maintenance.scheduled_for == start
    assert [c.slug for c in maintenance.components.all()] == ["checkout"]
    assert _deliver_and_publish() == ["[Keel status] Database upgrade: Scheduled maintenance"]
    page.goto(f"{live_server.url}/status/")
    upcoming = page.locator("section[aria-labelledby=h-upcoming]").inner_text()
    assert "Database upgrade" in upcoming and DESCRIPTION in upcoming

    # The beat, at the reminder, the start and the end of the window.
    assert maintenance_beat.maintenances_remind(now=start - timedelta(minutes=59)) == [
        maintenance.public_id
    ]
    assert maintenance_beat.maintenances_advance(now=start) == [
        (maintenance.public_id, "in_progress")
    ]
    subjects = _deliver_and_publish()
    assert subjects[1:] == [
        "[Keel status] Database upgrade: Starts in 59 minutes",
        "[Keel status] Database upgrade: Maintenance in progress",
    ]
    # A query string of its own: the page is cacheable for 30 s (max-age).
    page.goto(f"{live_server.url}/status/?after=start")
    active = page.locator("section[aria-labelledby=h-maint]").inner_text()
    assert "Database upgrade" in active and DESCRIPTION in active
    checkout = page.locator(".comp", has_text="Checkout").first.inner_text()
    assert "Under maintenance" in checkout
    summary = _summary(page, live_server, "start")
    assert summary["status"]["indicator"] == "maintenance"
    assert summary["scheduled_maintenances"][0]["status"] == "in_progress"

    assert maintenance_beat.maintenances_advance(now=start + timedelta(hours=1)) == [
        (maintenance.public_id, "completed")
    ]
    subjects = _deliver_and_publish()
    assert subjects[-1] == "[Keel status] Database upgrade: Maintenance completed"
    assert DESCRIPTION in mail.outbox[0].body
    page.goto(f"{live_server.url}/status/maintenances/{maintenance.public_id}/?after=end")
    public = page.locator("body").inner_text()
    assert "Completed" in public and DESCRIPTION in public
    assert "The scheduled maintenance has been completed." in public
    summary = _summary(page, live_server, "end")
    assert summary["status"]["indicator"] == "none"
    assert {c["name"]: c["status"] for c in summary["components"]}["Checkout"] == "operational"

    # The responder's page shows the whole timeline, the beat as the author.
    page.goto(f"{live_server.url}/maintenance/{maintenance.pk}/")
    timeline = page.locator("#updates").inner_text()
    assert timeline.count("automatic") == 2 and "rita" in timeline
    page.close()
