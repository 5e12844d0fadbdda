"""The incident timeline's one writer: every app records an event through
``timeline_record`` with a kind of its own (``TimelineEvent.Kind``), never by creating
rows itself or borrowing another event's kind. Recording tells the live pages."""

import functools
from datetime import datetime

from django.conf import settings
from django.db import connections, router
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
    recorded = getattr(settings, "SIMPLE_HISTORY_ENABLED", True)  # as simple-history's writer
    using = router.db_for_write(TimelineEvent)
    if recorded and connections[using].vendor == "postgresql":
        _insert_with_history_row(event, using)
        return event
    event.skip_history_when_saving = True
    try:
        event.save(force_insert=True)
    finally:
        del event.skip_history_when_saving
    if recorded:
        _first_history_row(event)
    return event


def _history_values(event: TimelineEvent) -> dict:
    """The columns of the "+" row simple-history's post-save writer would write besides
    the event's own: when, the user (the request's, as the history middleware names
    it) and no reason."""
    records = TIMELINE_HISTORY
    return {
        "history_date": getattr(event, "_history_date", timezone.now()),
        "history_type": "+",
        "history_user_id": getattr(records.get_history_user(event), "pk", None),
        "history_change_reason": records.get_change_reason_for_object(event, "+", None),
    }


def _quoted(names) -> str:
    return ", ".join(f'"{name}"' for name in names)


@functools.cache
def _insert_with_history_row_sql() -> tuple[str, tuple[str, ...]]:
    """The event's INSERT and its history row's, one statement (a data-modifying CTE):
    the ORM's two inserts took more than twice the CPU (0.71 against 0.31 ms), paid by
    every note, move and status update. Also the names of the event's fields, in the
    order of the statement's first parameters (``_history_values``' follow)."""
    fields = [field for field in TimelineEvent._meta.concrete_fields if not field.primary_key]
    copied = [
        _HISTORICAL_EVENT._meta.get_field(field.name).column
        for field in TimelineEvent._meta.concrete_fields
        if field.name not in TIMELINE_HISTORY.excluded_fields
    ]
    extra = ("history_date", "history_type", "history_user_id", "history_change_reason")
    columns = _quoted(field.column for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    history_columns = _quoted([*copied, *extra])
    from_event = ", ".join(f'event."{column}"' for column in copied)
    history_placeholders = ", ".join(["%s"] * len(extra))
    sql = (
        f'WITH event AS (INSERT INTO "{TimelineEvent._meta.db_table}" ({columns}) '
        f"VALUES ({placeholders}) RETURNING *) "
        f'INSERT INTO "{_HISTORICAL_EVENT._meta.db_table}" ({history_columns}) '
        f'SELECT {from_event}, {history_placeholders} FROM event RETURNING "id"'
    )
    return sql, tuple(field.name for field in fields)


def _insert_with_history_row(event: TimelineEvent, using: str) -> None:
    sql, names = _insert_with_history_row_sql()
    connection = connections[using]
    meta = TimelineEvent._meta
    values = [
        meta.get_field(name).get_db_prep_save(
            meta.get_field(name).pre_save(event, True), connection
        )
        for name in names
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, *_history_values(event).values()])
        (event.pk,) = cursor.fetchone()
    event._state.adding = False
    event._state.db = using


def _first_history_row(event: TimelineEvent) -> None:
    """The "+" row of ``_history_values`` written by the ORM (SQLite)."""
    fields = TIMELINE_HISTORY.fields_included(event)
    _HISTORICAL_EVENT(
        **_history_values(event),
        **{field.attname: getattr(event, field.attname) for field in fields},
    ).save(force_insert=True)
