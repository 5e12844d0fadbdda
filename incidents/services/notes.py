"""Notes on the timeline: add, edit (revisions kept), strike through."""

from django.db import transaction
from django.utils import timezone

from common.exceptions import InvalidInput
from incidents.models import (
    SHORT_TEXT_MAX,
    Incident,
    TimelineEvent,
)
from incidents.services.base import Kind, Source, require_driver, save
from incidents.timeline import timeline_record


def note_add(*, incident: Incident, text: str, actor, source: str = Source.WEB) -> TimelineEvent:
    """Append a note to the timeline (the event and its history row, one transaction)."""
    require_driver(actor)
    text = text.strip()
    if not text:
        raise InvalidInput("A note needs some text.", field="text")
    # Refused above, before anything is written: inside a caller's transaction (an
    # alert's notification, a Slack action) the two INSERTs need no savepoint of
    # their own, which would cost two more round trips. So a database error in them
    # rolls back the caller's whole transaction: it cannot be caught and carried past.
    with transaction.atomic(savepoint=False):
        return timeline_record(incident, kind=Kind.NOTE, actor=actor, source=source, text=text)


def _lock_note(event: TimelineEvent) -> TimelineEvent:
    note = TimelineEvent.objects.select_for_update().filter(pk=event.pk).first()
    if note is None or note.kind != Kind.NOTE:
        raise InvalidInput("Only notes can be edited or struck through.", field="event")
    if note.struck_at is not None:
        raise InvalidInput("This note is struck through; add a new note instead.", field="event")
    return note


@transaction.atomic
def note_edit(*, event: TimelineEvent, text: str, actor, source: str = Source.WEB) -> TimelineEvent:
    """Replace a note's text. The history keeps the previous text with who and when;
    the timeline shows the note as edited."""
    require_driver(actor)
    text = (text or "").strip()
    if not text:
        raise InvalidInput(
            "A note needs some text; strike it through to withdraw it.", field="text"
        )
    note = _lock_note(event)
    if text == note.text:
        return note
    note.text = text
    note.edited_at = timezone.now()
    note.edited_by = actor
    save(
        note,
        actor=actor,
        reason=f"note edited via {source}",
        update_fields=["text", "edited_at", "edited_by"],
    )
    return note


@transaction.atomic
def note_strike(
    *, event: TimelineEvent, actor, reason: str = "", source: str = Source.WEB
) -> TimelineEvent:
    """Strike a note through (it was wrong): the text stays, shown struck through with
    who, when and why; nothing is deleted."""
    require_driver(actor)
    reason = (reason or "").strip()
    if len(reason) > SHORT_TEXT_MAX:
        raise InvalidInput(
            f"Ensure this field has no more than {SHORT_TEXT_MAX} characters.", field="reason"
        )
    note = _lock_note(event)
    note.struck_at = timezone.now()
    note.struck_by = actor
    note.struck_reason = reason
    save(
        note,
        actor=actor,
        reason=f"note struck through via {source}",
        update_fields=["struck_at", "struck_by", "struck_reason"],
    )
    return note
