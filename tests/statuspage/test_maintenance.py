"""Scheduled maintenance services: each transition with the rows it writes (update,
history, component status log, subscriber messages), the refusals, the beat's
automatic start/complete and reminders."""

from datetime import timedelta

import pytest
from django.utils import timezone

from common.exceptions import Conflict, InvalidInput
from statuspage import documents, maintenance_beat
from statuspage import maintenance as services
from statuspage.models import ComponentStatusChange, MaintenanceUpdate, ScheduledMaintenance
from statuspage.subscriber_models import Subscriber, SubscriberNotification
from statuspage.tasks import statuspage_maintenances_advance_task
from tests.statuspage.conftest import publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscriber(db):
    return Subscriber.objects.create(
        kind="email", email="customer@example.test", confirmed_at=timezone.now()
    )


@pytest.fixture
def maintenance(components, responder, subscriber):
    now = timezone.now()
    return services.maintenance_schedule(
        name="Database upgrade",
        scheduled_for=now + timedelta(minutes=30),
        scheduled_until=now + timedelta(hours=2),
        components=[components["api"], components["dashboard"]],
        body="Writes pause for up to a minute.",
        remind_minutes_before=60,
        actor=responder,
    )


def messages_about(maintenance) -> list[SubscriberNotification]:
    return list(
        SubscriberNotification.objects.filter(
            event__startswith=f"maintenance:{maintenance.public_id}:"
        ).order_by("created_at")
    )


def test_schedule_writes_the_first_update_history_and_a_message(components, responder, subscriber):
    now = timezone.now()
    maintenance = services.maintenance_schedule(
        name="Database upgrade",
        scheduled_for=now + timedelta(hours=1),
        scheduled_until=now + timedelta(hours=2),
        components=[components["api"]],
        body="Writes pause for up to a minute.",
        actor=responder,
    )
    (update,) = maintenance.updates.all()
    assert update.status == "scheduled" and update.body == "Writes pause for up to a minute."
    assert update.created_by == responder and update.deliver_notifications
    records = list(maintenance.history.order_by("history_date", "history_id"))
    assert {r.history_user for r in records} == {responder}
    assert records[0].history_change_reason == "scheduled"
    (message,) = messages_about(maintenance)
    assert "Scheduled maintenance" in message.subject
    assert "Writes pause for up to a minute." in message.body
    assert maintenance.component_status == "under_maintenance"
    assert maintenance.remind_minutes_before == 60  # the setting's default


def test_schedule_can_stay_quiet(components, responder, subscriber):
    now = timezone.now()
    maintenance = services.maintenance_schedule(
        name="Quiet",
        scheduled_for=now + timedelta(hours=1),
        scheduled_until=now + timedelta(hours=2),
        components=[components["api"]],
        notify_subscribers=False,
        remind_minutes_before=None,
        actor=responder,
    )
    assert messages_about(maintenance) == []
    assert not maintenance.updates.get().deliver_notifications
    assert (
        maintenance_beat.maintenances_remind(now=maintenance.scheduled_for - timedelta(minutes=1))
        == []
    )


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"name": "x" * 201}, "name", "Title is 201 characters long"),
        ({"name": "  "}, "name", "Title is required"),
        ({"name": "Two\nlines"}, "name", "Title: This field cannot contain a line break"),
        ({"body": "x" * 4001}, "body", "Description is 4001 characters long"),
        ({"end_offset": 0}, "scheduled_until", "must end after it starts"),
        ({"end_offset": -30}, "scheduled_until", "must end after it starts"),
        ({"start_offset": -120, "end_offset": 60}, "scheduled_until", "already ended"),
        ({"component_status": "operational"}, "component_status", "not 'operational'"),
        ({"remind_minutes_before": 0}, "remind_minutes_before", "1 to 10080 minutes"),
    ],
)
def test_schedule_refusals_name_the_field(components, responder, kwargs, field, words):
    now = timezone.now()
    start = now + timedelta(minutes=kwargs.pop("start_offset", 60))
    end = start + timedelta(minutes=kwargs.pop("end_offset", 60))
    arguments = {
        "name": "Upgrade",
        "scheduled_for": start,
        "scheduled_until": end,
        "components": [components["api"]],
        "actor": responder,
        **kwargs,
    }
    with pytest.raises(InvalidInput) as refused:
        services.maintenance_schedule(**arguments)
    assert refused.value.field == field and words in refused.value.message
    assert not ScheduledMaintenance.objects.exists()


def test_start_puts_components_under_maintenance_and_tells_subscribers(
    maintenance, components, responder, subscriber
):
    services.maintenance_move(maintenance=maintenance, to="in_progress", actor=responder)
    maintenance.refresh_from_db()
    assert maintenance.status == "in_progress" and maintenance.started_at is not None
    components["api"].refresh_from_db()
    assert components["api"].status == "under_maintenance"
    assert ComponentStatusChange.objects.filter(maintenance=maintenance).count() == 2
    latest = maintenance.updates.first()
    assert latest.status == "in_progress" and latest.created_by == responder
    assert {c["new_status"] for c in latest.affected_components} == {"under_maintenance"}
    assert maintenance.history.first().history_change_reason == "moved to in_progress"
    assert "Maintenance in progress" in messages_about(maintenance)[-1].subject


def test_component_status_during_the_window_is_the_maintenances_choice(components, responder):
    now = timezone.now()
    maintenance = services.maintenance_schedule(
        name="Failover drill",
        scheduled_for=now + timedelta(minutes=5),
        scheduled_until=now + timedelta(hours=1),
        components=[components["email"]],
        component_status="degraded_performance",
        actor=responder,
    )
    services.maintenance_move(maintenance=maintenance, to="in_progress", actor=responder)
    components["email"].refresh_from_db()
    assert components["email"].status == "degraded_performance"
    services.maintenance_move(maintenance=maintenance, to="completed", actor=responder)
    components["email"].refresh_from_db()
    assert components["email"].status == "operational"


def test_complete_restores_the_components_and_says_so(
    maintenance, components, responder, subscriber
):
    services.maintenance_move(maintenance=maintenance, to="in_progress", actor=responder)
    services.maintenance_move(
        maintenance=maintenance, to="completed", body="All done, thanks.", actor=responder
    )
    maintenance.refresh_from_db()
    assert maintenance.status == "completed" and maintenance.completed_at is not None
    components["api"].refresh_from_db()
    assert components["api"].status == "operational"
    assert maintenance.updates.first().body == "All done, thanks."
    assert "Maintenance completed" in messages_about(maintenance)[-1].subject


def test_no_message_at_the_start_when_the_maintenance_says_so(components, responder, subscriber):
    now = timezone.now()
    maintenance = services.maintenance_schedule(
        name="Quiet start",
        scheduled_for=now + timedelta(minutes=5),
        scheduled_until=now + timedelta(hours=1),
        components=[components["api"]],
        notify_on_start=False,
        actor=responder,
    )
    services.maintenance_move(maintenance=maintenance, to="in_progress", actor=responder)
    assert len(messages_about(maintenance)) == 1  # the announcement only
    assert not maintenance.updates.first().deliver_notifications


def test_verifying_and_back_each_write_an_update_and_a_message(maintenance, responder, subscriber):
    for to in ("in_progress", "verifying", "in_progress", "completed"):
        services.maintenance_move(maintenance=maintenance, to=to, actor=responder)
    assert [u.status for u in maintenance.updates.order_by("display_at", "id")] == [
        "scheduled",
        "in_progress",
        "verifying",
        "in_progress",
        "completed",
    ]
    assert len(messages_about(maintenance)) == 5  # one per update: none is swallowed


def test_complete_before_start_is_refused(maintenance, responder):
    with pytest.raises(Conflict) as refused:
        services.maintenance_move(maintenance=maintenance, to="completed", actor=responder)
    assert "has not started yet" in refused.value.message and refused.value.field == "status"
    maintenance.refresh_from_db()
    assert maintenance.status == "scheduled" and maintenance.updates.count() == 1


def test_cancel_needs_a_reason_and_restores_components(
    maintenance, components, responder, subscriber
):
    services.maintenance_move(maintenance=maintenance, to="in_progress", actor=responder)
    with pytest.raises(InvalidInput) as refused:
        services.maintenance_cancel(maintenance=maintenance, reason=" ", actor=responder)
    assert refused.value.field == "reason"
    services.maintenance_cancel(
        maintenance=maintenance, reason="The vendor postponed the upgrade.", actor=responder
    )
    maintenance.refresh_from_db()
    assert maintenance.status == "cancelled" and maintenance.cancelled_at is not None
    components["api"].refresh_from_db()
    assert components["api"].status == "operational"
    cancel = maintenance.updates.first()
    assert cancel.status == "cancelled" and cancel.body == "The vendor postponed the upgrade."
    message = messages_about(maintenance)[-1]
    assert "Maintenance cancelled" in message.subject
    assert "The vendor postponed the upgrade." in message.body


def test_cancel_after_completion_is_refused(maintenance, responder):
    services.maintenance_move(maintenance=maintenance, to="in_progress", actor=responder)
    services.maintenance_move(maintenance=maintenance, to="completed", actor=responder)
    with pytest.raises(Conflict) as refused:
        services.maintenance_cancel(maintenance=maintenance, reason="Too late", actor=responder)
    assert "already completed" in refused.value.message
    assert maintenance.updates.count() == 3


def test_a_second_identical_move_is_refused_without_a_second_update(maintenance, responder):
    services.maintenance_move(maintenance=maintenance, to="in_progress", actor=responder)
    with pytest.raises(Conflict):
        services.maintenance_move(maintenance=maintenance, to="in_progress", actor=responder)
    assert maintenance.updates.count() == 2


def test_post_an_update(maintenance, responder, subscriber):
    update = services.maintenance_update_post(
        maintenance=maintenance, body="We start on time.", actor=responder
    )
    assert update.status == "scheduled" and update.created_by == responder
    assert "We start on time." in messages_about(maintenance)[-1].body
    with pytest.raises(InvalidInput) as refused:
        services.maintenance_update_post(maintenance=maintenance, body="x" * 4001, actor=responder)
    assert refused.value.field == "body" and "Message is 4001 characters" in refused.value.message


def test_reschedule_announces_the_new_window_and_rearms_the_reminder(
    maintenance, responder, subscriber
):
    reminder_at = maintenance.scheduled_for - timedelta(minutes=30)
    assert maintenance_beat.maintenances_remind(now=reminder_at) == [maintenance.public_id]
    later = maintenance.scheduled_for + timedelta(days=1)
    edited, update = services.maintenance_edit(
        maintenance=maintenance,
        change=services.Change(scheduled_for=later, scheduled_until=later + timedelta(hours=1)),
        note="The vendor asked for a day.",
        actor=responder,
    )
    assert edited.scheduled_for == later and edited.reminder_sent_at is None
    assert update.body.startswith("Rescheduled: now ") and "The vendor asked" in update.body
    assert "Maintenance rescheduled" in messages_about(maintenance)[-1].subject
    assert edited.history.first().history_change_reason == "edited: window"
    # The reminder comes again before the new start.
    assert maintenance_beat.maintenances_remind(now=later - timedelta(minutes=30)) == [
        edited.public_id
    ]


def test_an_edit_that_changes_nothing_writes_nothing(maintenance, responder):
    before = maintenance.history.count()
    _, update = services.maintenance_edit(
        maintenance=maintenance,
        change=services.Change(
            name="Database upgrade",
            scheduled_for=maintenance.scheduled_for,
            scheduled_until=maintenance.scheduled_until,
        ),
        actor=responder,
    )
    assert update is None and maintenance.history.count() == before


def test_edit_refusals(maintenance, responder):
    with pytest.raises(InvalidInput) as refused:
        services.maintenance_edit(
            maintenance=maintenance,
            change=services.Change(scheduled_until=maintenance.scheduled_for),
            actor=responder,
        )
    assert refused.value.field == "scheduled_until"
    services.maintenance_move(maintenance=maintenance, to="in_progress", actor=responder)
    with pytest.raises(Conflict) as started:
        services.maintenance_edit(
            maintenance=maintenance,
            change=services.Change(scheduled_for=maintenance.scheduled_for + timedelta(hours=1)),
            actor=responder,
        )
    assert started.value.field == "scheduled_for"


def test_components_joining_an_active_maintenance_are_refreshed(maintenance, components, responder):
    services.maintenance_move(maintenance=maintenance, to="in_progress", actor=responder)
    services.maintenance_edit(
        maintenance=maintenance,
        change=services.Change(components=[components["api"], components["email"]]),
        actor=responder,
    )
    for slug, status in (
        ("api", "under_maintenance"),
        ("dashboard", "operational"),
        ("email", "under_maintenance"),
    ):
        components[slug].refresh_from_db()
        assert components[slug].status == status, slug


def test_the_beat_starts_and_completes_it_on_time(maintenance, components, subscriber):
    start = maintenance.scheduled_for
    assert maintenance_beat.maintenances_advance(now=start - timedelta(seconds=1)) == []
    assert maintenance_beat.maintenances_advance(now=start) == [
        (maintenance.public_id, "in_progress")
    ]
    components["api"].refresh_from_db()
    assert components["api"].status == "under_maintenance"
    assert maintenance_beat.maintenances_advance(now=start + timedelta(minutes=5)) == []

    end = maintenance.scheduled_until
    assert maintenance_beat.maintenances_advance(now=end) == [(maintenance.public_id, "completed")]
    maintenance.refresh_from_db()
    assert maintenance.status == "completed" and maintenance.completed_at == end
    components["api"].refresh_from_db()
    assert components["api"].status == "operational"
    automatic = maintenance.updates.filter(status__in=["in_progress", "completed"])
    assert [u.created_by for u in automatic] == [None, None]
    assert [m.subject.split(": ")[-1] for m in messages_about(maintenance)] == [
        "Scheduled maintenance",
        "Maintenance in progress",
        "Maintenance completed",
    ]


def test_a_window_missed_by_the_beat_is_started_then_completed(maintenance):
    late = maintenance.scheduled_until + timedelta(minutes=1)
    assert maintenance_beat.maintenances_advance(now=late) == [
        (maintenance.public_id, "in_progress"),
        (maintenance.public_id, "completed"),
    ]


def test_manual_maintenances_are_left_alone(components):
    now = timezone.now()
    manual = services.maintenance_schedule(
        name="Manual",
        scheduled_for=now - timedelta(minutes=1),
        scheduled_until=now + timedelta(hours=1),
        components=[],
        auto_start=False,
    )
    assert maintenance_beat.maintenances_advance(now=now) == []
    manual.refresh_from_db()
    assert manual.status == "scheduled"
    services.maintenance_move(maintenance=manual, to="in_progress")
    never_ends = services.maintenance_schedule(
        name="Manual end",
        scheduled_for=now - timedelta(minutes=1),
        scheduled_until=now + timedelta(minutes=1),
        components=[],
        auto_complete=False,
    )
    # The one started by hand still completes on time; the other never completes.
    assert set(maintenance_beat.maintenances_advance(now=now + timedelta(hours=2))) == {
        (manual.public_id, "completed"),
        (never_ends.public_id, "in_progress"),
    }
    assert maintenance_beat.maintenances_advance(now=now + timedelta(hours=3)) == []


def test_subscribers_are_reminded_once_before_the_start(maintenance, subscriber):
    now = maintenance.scheduled_for - timedelta(minutes=30)
    assert maintenance_beat.maintenances_remind(now=now - timedelta(minutes=31)) == []
    assert maintenance_beat.maintenances_remind(now=now) == [maintenance.public_id]
    assert maintenance_beat.maintenances_remind(now=now) == []
    reminder = SubscriberNotification.objects.get(event__contains=":reminder:")
    assert "Starts in 30 minutes" in reminder.subject
    assert "Writes pause for up to a minute." in reminder.body


def test_the_beat_task_runs_both(maintenance):
    result = statuspage_maintenances_advance_task.run()
    assert result == {"moved": [], "reminded": [maintenance.public_id]}


def test_an_outage_is_not_hidden_by_maintenance(maintenance, components, incident, responder):
    publish(incident, responder, public_title="API down", components={"api": "major_outage"})
    services.maintenance_move(maintenance=maintenance, to="in_progress")
    components["api"].refresh_from_db()
    components["dashboard"].refresh_from_db()
    assert components["api"].status == "major_outage"
    assert components["dashboard"].status == "under_maintenance"


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


def test_updates_get_their_timestamps_without_being_told(maintenance):
    # The admin once saved an update without created_at: a 500.
    update = MaintenanceUpdate.objects.create(maintenance=maintenance, status="scheduled", body="x")
    assert update.created_at is not None and update.display_at is not None


def test_the_statuspage_json_lists_a_cancelled_maintenance_only_in_the_full_list(
    maintenance, components, responder
):
    quiet = services.maintenance_schedule(
        name="Quiet one",
        scheduled_for=maintenance.scheduled_for,
        scheduled_until=maintenance.scheduled_until,
        components=[components["email"]],
        notify_subscribers=False,
        actor=responder,
    )
    services.maintenance_cancel(maintenance=maintenance, reason="Postponed.", actor=responder)
    files = documents.all_documents()

    def names(path):
        return [m["name"] for m in files[path]["scheduled_maintenances"]]

    assert sorted(names("scheduled-maintenances.json")) == ["Database upgrade", "Quiet one"]
    assert names("scheduled-maintenances/upcoming.json") == ["Quiet one"]
    assert names("summary.json") == ["Quiet one"]
    (cancelled,) = [
        m
        for m in files["scheduled-maintenances.json"]["scheduled_maintenances"]
        if m["status"] == "cancelled"
    ]
    assert cancelled["incident_updates"][0]["body"] == "Postponed."
    (quiet_doc,) = files["scheduled-maintenances/upcoming.json"]["scheduled_maintenances"]
    assert quiet_doc["incident_updates"][0]["deliver_notifications"] is False
    assert quiet.public_id == quiet_doc["id"]
