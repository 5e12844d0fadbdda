"""Scheduled maintenance: the flow, automatic start/finish by the beat, the reminder."""

from datetime import timedelta

import pytest
from django.utils import timezone

from statuspage import services
from statuspage.models import ComponentStatusChange, Subscriber, SubscriberNotification
from statuspage.tasks import statuspage_maintenances_advance_task
from tests.statuspage.conftest import publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def maintenance(components):
    now = timezone.now()
    return services.maintenance_schedule(
        name="Database upgrade",
        scheduled_for=now + timedelta(minutes=30),
        scheduled_until=now + timedelta(hours=2),
        components=[components["api"], components["dashboard"]],
        body="Writes pause for up to a minute.",
    )


def test_schedule_writes_the_first_update(maintenance):
    (update,) = maintenance.updates.all()
    assert update.status == "scheduled" and update.body == "Writes pause for up to a minute."
    assert maintenance.history.exists()


def test_the_beat_starts_and_completes_it_on_time(maintenance, components):
    start = maintenance.scheduled_for
    assert services.maintenances_advance(now=start - timedelta(seconds=1)) == []
    assert services.maintenances_advance(now=start) == [(maintenance.public_id, "in_progress")]
    components["api"].refresh_from_db()
    assert components["api"].status == "under_maintenance"
    assert ComponentStatusChange.objects.filter(maintenance=maintenance).count() == 2
    assert services.maintenances_advance(now=start + timedelta(minutes=5)) == []

    end = maintenance.scheduled_until
    assert services.maintenances_advance(now=end) == [(maintenance.public_id, "completed")]
    maintenance.refresh_from_db()
    assert maintenance.status == "completed" and maintenance.completed_at == end
    components["api"].refresh_from_db()
    assert components["api"].status == "operational"
    assert [u.status for u in maintenance.updates.all()] == [
        "completed",
        "in_progress",
        "scheduled",
    ]


def test_an_outage_is_not_hidden_by_maintenance(maintenance, components, incident, responder):
    publish(incident, responder, public_title="API down", components={"api": "major_outage"})
    services.maintenance_move(maintenance=maintenance, to="in_progress")
    components["api"].refresh_from_db()
    components["dashboard"].refresh_from_db()
    assert components["api"].status == "major_outage"
    assert components["dashboard"].status == "under_maintenance"


def test_manual_flow_through_verifying_and_illegal_moves(maintenance):
    services.maintenance_move(maintenance=maintenance, to="in_progress")
    services.maintenance_move(maintenance=maintenance, to="verifying")
    services.maintenance_move(maintenance=maintenance, to="completed")
    with pytest.raises(services.Conflict):
        services.maintenance_move(maintenance=maintenance, to="in_progress")


def test_manual_maintenances_are_left_alone(components):
    now = timezone.now()
    manual = services.maintenance_schedule(
        name="Manual",
        scheduled_for=now - timedelta(minutes=1),
        scheduled_until=now + timedelta(hours=1),
        components=[],
        auto_transition=False,
    )
    assert services.maintenances_advance(now=now) == []
    manual.refresh_from_db()
    assert manual.status == "scheduled"


def test_subscribers_are_reminded_once_before_the_start(maintenance, settings):
    settings.STATUSPAGE_MAINTENANCE_REMINDER_MINUTES = 60
    Subscriber.objects.create(kind="email", email="a@example.test", confirmed_at=timezone.now())
    now = maintenance.scheduled_for - timedelta(minutes=30)
    assert services.maintenances_remind(now=now) == [maintenance.public_id]
    assert services.maintenances_remind(now=now) == []
    reminder = SubscriberNotification.objects.get(event__endswith=":reminder")
    assert "Starts in 30 minutes" in reminder.subject


def test_the_beat_task_runs_both(maintenance):
    result = statuspage_maintenances_advance_task.run()
    assert result == {"moved": [], "reminded": [maintenance.public_id]}


def test_completing_a_maintenance_leaves_what_an_incident_still_says(
    maintenance, components, incident, responder
):
    services.maintenance_move(maintenance=maintenance, to="in_progress")
    publish(
        incident, responder, public_title="API slow", components={"api": "degraded_performance"}
    )
    services.maintenance_move(maintenance=maintenance, to="completed")
    components["api"].refresh_from_db()
    components["dashboard"].refresh_from_db()
    assert components["api"].status == "degraded_performance"
    assert components["dashboard"].status == "operational"
