"""The incident timeline's one writer: every app records an event through
``timeline_record`` with a kind of its own (``TimelineEvent.Kind``), never by creating
rows itself or borrowing another event's kind. Recording tells the live pages."""

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from incidents import live
from incidents.models import TIMELINE_HISTORY, Incident, TimelineEvent

# The history rows' model, looked up once: ``TimelineEvent.history`` makes a manager
# class (``from_queryset``) on every access, and simple-history's own post-save
# writer asks for it on every event.
_HISTORICAL_EVENT = TimelineEvent.history.model


def timeline_record(
    incident: Incident | int,
    *,
    kind: str,
    actor,
    source: str,
    text: str = "",
    data: dict | None = None,
    at: datetime | None = None,
) -> TimelineEvent:
    """Append one event to ``incident``'s timeline (an incident or its id), in the
    caller's transaction."""
    if kind not in TimelineEvent.Kind.values:
        raise ValueError(f"Unknown timeline event kind {kind!r}.")
    live.incident_changed(incident)
    whose = {"incident_id": incident} if isinstance(incident, int) else {"incident": incident}
    event = TimelineEvent(
        **whose,
        kind=kind,
        actor=actor,
        source=source,
        text=text,
        data=data or {},
        occurred_at=at or timezone.now(),
    )
    event.skip_history_when_saving = True
    try:
        event.save(force_insert=True)
    finally:
        del event.skip_history_when_saving
    if getattr(settings, "SIMPLE_HISTORY_ENABLED", True):  # as simple-history's own writer
        _first_history_row(event)
    return event


def _first_history_row(event: TimelineEvent) -> None:
    """The "+" row simple-history's post-save writer would write: the event's fields,
    the user (the request's, as the history middleware names it) and no reason."""
    records = TIMELINE_HISTORY
    fields = records.fields_included(event)
    _HISTORICAL_EVENT(
        history_date=getattr(event, "_history_date", timezone.now()),
        history_type="+",
        history_user=records.get_history_user(event),
        history_change_reason=records.get_change_reason_for_object(event, "+", None),
        **{field.attname: getattr(event, field.attname) for field in fields},
    ).save(force_insert=True)
