"""The incident timeline's one writer: every app records an event through
``timeline_record`` with a kind of its own (``TimelineEvent.Kind``), never by creating
rows itself or borrowing another event's kind. Recording tells the live pages."""

from datetime import datetime

from django.utils import timezone

from incidents import live
from incidents.models import Incident, TimelineEvent


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
    return TimelineEvent.objects.create(
        **whose,
        kind=kind,
        actor=actor,
        source=source,
        text=text,
        data=data or {},
        occurred_at=at or timezone.now(),
    )
