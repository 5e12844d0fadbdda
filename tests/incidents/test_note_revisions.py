"""Notes are never deleted: an edit keeps the previous text in the history, a strike
keeps the note struck through; the timeline says who and when."""

import pytest

from common.exceptions import InvalidInput, NotAllowed
from incidents import history, services
from incidents.models import TimelineEvent
from tests.factories.incidents import UserFactory, severity

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(responder):
    return services.incident_declare(
        title="Checkout 500s", severity=severity("SEV2"), actor=responder
    )


def test_an_edit_keeps_the_previous_text_in_the_history(incident, responder):
    scribe = UserFactory(username="sam", role="responder")
    note = services.note_add(incident=incident, text="Rolled back web-3", actor=responder)
    services.note_edit(event=note, text="Rolled back web-2", actor=scribe)
    note.refresh_from_db()
    assert note.text == "Rolled back web-2"
    assert (note.edited_by, note.actor) == (scribe, responder)
    assert note.edited_at is not None
    texts = [record.text for record in note.history.order_by("history_id")]
    assert texts == ["Rolled back web-3", "Rolled back web-2"]
    entries = [e for e in history.incident_history(incident=incident) if e.object_type == "note"]
    assert [e.action for e in entries] == ["created", "changed"]
    change = next(c for c in entries[1].changes if c.field == "text")
    assert (change.old, change.new) == ("Rolled back web-3", "Rolled back web-2")
    assert entries[1].user == "sam"


def test_a_strike_keeps_the_note_and_says_who_and_why(incident, responder):
    note = services.note_add(incident=incident, text="DB is the cause", actor=responder)
    services.note_strike(event=note, actor=responder, reason="It was the cache")
    note.refresh_from_db()
    assert note.text == "DB is the cause"
    assert (note.struck_by, note.struck_reason) == (responder, "It was the cache")
    assert TimelineEvent.objects.filter(pk=note.pk).exists()
    with pytest.raises(InvalidInput):
        services.note_edit(event=note, text="changed", actor=responder)
    with pytest.raises(InvalidInput):
        services.note_strike(event=note, actor=responder)


def test_only_notes_can_be_revised_by_responders(incident, responder, viewer):
    declared = incident.events.get(kind=TimelineEvent.Kind.DECLARED)
    with pytest.raises(InvalidInput) as excinfo:
        services.note_edit(event=declared, text="rewritten", actor=responder)
    assert excinfo.value.field == "event"
    note = services.note_add(incident=incident, text="t", actor=responder)
    with pytest.raises(NotAllowed):
        services.note_edit(event=note, text="x", actor=viewer)
    with pytest.raises(InvalidInput) as excinfo:
        services.note_edit(event=note, text="  ", actor=responder)
    assert excinfo.value.field == "text"
