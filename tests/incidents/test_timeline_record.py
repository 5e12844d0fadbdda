"""One writer for the timeline: ``incidents.timeline.timeline_record``, with a kind of
each event's own. Events other apps used to file under a borrowed kind get theirs by
migration (incidents 0009)."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from simple_history.models import HistoricalRecords

from incidents.models import TimelineEvent
from incidents.timeline import timeline_record
from tests.factories.incidents import IncidentFactory

BEFORE = [("incidents", "0008_outcome_constraints")]
AFTER = [("incidents", "0009_timeline_kinds_of_their_own")]


@pytest.mark.django_db
def test_an_event_is_recorded_with_its_kind_and_an_unknown_kind_is_refused(responder):
    incident = IncidentFactory()
    event = timeline_record(
        incident.pk,
        kind=TimelineEvent.Kind.DELIVERY_REPLAYED,
        actor=responder,
        source=TimelineEvent.Source.WEB,
        text="Replayed delivery to CS list",
    )
    assert (event.incident_id, event.kind, event.actor) == (
        incident.pk,
        "delivery_replayed",
        responder,
    )
    with pytest.raises(ValueError, match="Unknown timeline event kind 'note-ish'"):
        timeline_record(incident, kind="note-ish", actor=None, source="web")


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in", [False, True])
def test_an_events_history_row_is_the_one_simple_history_writes(responder, rf, signed_in):
    """``timeline_record`` writes the event's "+" row itself: the same row as
    simple-history's post-save writer, the request's user (history middleware) included."""
    incident = IncidentFactory()
    request = rf.post("/")
    request.user = responder if signed_in else AnonymousUser()
    HistoricalRecords.context.request = request
    try:
        ours = timeline_record(incident, kind="note", actor=responder, source="api", text="One.")
        theirs = TimelineEvent.objects.create(
            incident=incident,
            kind="note",
            actor=responder,
            source="api",
            text="One.",
            occurred_at=timezone.now(),
        )
    finally:
        del HistoricalRecords.context.request

    ignored = {"history_id", "history_date", "id", "occurred_at"}

    def row(event) -> dict:
        (history,) = event.history.values()
        return {name: value for name, value in history.items() if name not in ignored}

    assert row(ours) == row(theirs)
    assert row(ours)["history_user_id"] == (responder.pk if signed_in else None)
    assert row(ours)["history_type"] == "+"
    assert "data" not in row(ours)


@pytest.mark.django_db
def test_the_recorded_event_is_the_row_written(responder):
    """The event returned is the row as stored (its key, its data), saved as the ORM
    leaves a saved instance: PostgreSQL writes it and its history row in one statement."""
    incident = IncidentFactory()
    event = timeline_record(
        incident,
        kind="note",
        actor=responder,
        source="web",
        text="Rolled back 4.2.1.",
        data={"links": ["https://example.com/runbook"], "n": 2},
    )
    stored = TimelineEvent.objects.get(pk=event.pk)
    fields = [field.attname for field in TimelineEvent._meta.concrete_fields]
    assert [getattr(event, name) for name in fields] == [getattr(stored, name) for name in fields]
    assert stored.data == {"links": ["https://example.com/runbook"], "n": 2}
    assert not event._state.adding and event._state.db == "default"
    (history,) = stored.history.all()
    assert (history.id, history.text, history.history_type) == (event.pk, "Rolled back 4.2.1.", "+")
    event.text = "Rolled back 4.2.1 and 4.2.0."
    event.save()  # an update of the saved instance, not a second insert
    assert TimelineEvent.objects.filter(incident=incident).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_borrowed_kinds_become_their_own_and_back():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Incident = old.get_model("incidents", "Incident")
    Event = old.get_model("incidents", "TimelineEvent")
    incident = Incident.objects.get(pk=IncidentFactory().pk)
    now = timezone.now()

    def event(kind, data):
        return Event.objects.create(
            incident=incident, kind=kind, source="web", occurred_at=now, data=data
        ).pk

    opened = event("note", {"slack_channel": "C1", "invited": []})
    note = event("note", {})
    replayed = event("status_update", {"delivery": "d1", "replay": True})
    refused = event("status_update", {"delivery": "d2", "replay": False, "refused": "gone"})
    update = event("status_update", {"update": 7})
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        kinds = dict(TimelineEvent.objects.values_list("pk", "kind"))
        assert kinds == {
            opened: "slack_channel_opened",
            note: "note",
            replayed: "delivery_replayed",
            refused: "delivery_replay_refused",
            update: "status_update",
        }
        MigrationExecutor(connection).migrate(BEFORE)
        back = dict(Event.objects.values_list("pk", "kind"))
        assert back == {
            opened: "note",
            note: "note",
            replayed: "status_update",
            refused: "status_update",
            update: "status_update",
        }
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
