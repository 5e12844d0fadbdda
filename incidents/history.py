"""The incident's audit trail: who changed which field when, old → new, for the
incident, its decisions and its edited or struck-through notes.

The trail merges three record streams (django-simple-history): the incident's own
records, its decisions' and its revised notes'. Each entry is one record, ordered by
``(at, stream, history id)``. The History tab and the API read it a bounded page at
a time (``history_page``), continued by one signed cursor (``history_cursor``,
``history_after``; ``common.keyset``): at most ``size + 1`` records of each stream
after the previous page's last entry, plus, to tell what each one changed, the record
just before it of the same object. The people, services and severities the changes
name are read once per page, one query per kind of row, not once per change.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache

from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from simple_history.models import ModelChange
from simple_history.utils import get_m2m_reverse_field_name

from common import keyset
from incidents.models import Decision, Incident, TimelineEvent

# The streams in the order entries of the same instant are listed.
STREAMS = ("incident", "decision", "note")
_HISTORY_HIDDEN = {"updated_at", "created_at"}
# A page of the trail, on the History tab and in the API.
PAGE_SIZE = 100
# The trail's cursor: a ``HistoryKey`` as ``common.keyset`` signs it.
_CURSOR_NAME = "history"
_CURSOR_PARSERS = (datetime.fromisoformat, int, int)


@dataclass(frozen=True)
class Related:
    """A change's value that names rows (a person, services): named per page."""

    model: type
    pks: tuple
    many: bool


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    user: str | None
    object_type: str
    object_id: int
    action: str
    reason: str
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True)
class HistoryKey:
    """Where an entry sits in the trail: after every entry with a smaller key."""

    at: datetime
    stream: int
    history_id: int

    def order(self) -> tuple:
        return (self.at, self.stream, self.history_id)


@dataclass(frozen=True)
class HistoryPage:
    entries: list[HistoryEntry]
    next_after: HistoryKey | None


def history_cursor(key: HistoryKey) -> str:
    """The cursor of the trail's page after ``key``."""
    return keyset.cursor_after(_CURSOR_NAME, [key.at.isoformat(), key.stream, key.history_id])


def history_after(cursor: str | None) -> HistoryKey | None:
    """The key a ``history_cursor`` cursor continues after (None: from the start);
    ``keyset.InvalidCursor`` when it is not one (tampered, another list's, garbled)."""
    if not cursor:
        return None
    raw = keyset.cursor_values(cursor, name=_CURSOR_NAME, length=len(_CURSOR_PARSERS))
    return HistoryKey(*keyset.parse_values(raw, _CURSOR_PARSERS))


def _display(record, field_name: str, value):
    if value is None or value == "":
        return "—"
    field = record.instance_type._meta.get_field(field_name)
    if getattr(field, "choices", None):
        return str(dict(field.flatchoices).get(value, value))
    if field.many_to_many:
        pks = [
            v.get(field.m2m_reverse_field_name(), v) if isinstance(v, dict) else v for v in value
        ]
        return Related(field.related_model, tuple(pks), many=True)
    if field.is_relation:
        return Related(field.related_model, (value,), many=False)
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")
    return str(value)


def _named(entries: list[HistoryEntry]) -> list[HistoryEntry]:
    """``entries`` with every ``Related`` value turned into the rows' names."""
    wanted: dict[type, set] = {}
    for entry in entries:
        for change in entry.changes:
            for value in (change.old, change.new):
                if isinstance(value, Related):
                    wanted.setdefault(value.model, set()).update(value.pks)
    if not wanted:
        return entries
    rows = {model: model._default_manager.in_bulk(list(pks)) for model, pks in wanted.items()}

    def name(value):
        if not isinstance(value, Related):
            return value
        found = rows[value.model]
        if value.many:
            return ", ".join(sorted(str(found[pk]) for pk in value.pks if pk in found)) or "—"
        row = found.get(value.pks[0])
        return str(row) if row else f"#{value.pks[0]}"

    return [
        replace(
            entry,
            changes=tuple(
                replace(change, old=name(change.old), new=name(change.new))
                for change in entry.changes
            ),
        )
        for entry in entries
    ]


class M2MRows:
    """The many-to-many rows (services, responders) of a set of history records, read
    in one query per field, to diff records as ``diff_against`` does without its two
    queries per field and record."""

    def __init__(self, records: list):
        self.fields: list[str] = []
        self.rows: dict[tuple[str, int], list[dict]] = {}
        if not records:
            return
        sample = records[0]
        ids = [record.history_id for record in records]
        for field in sample._history_m2m_fields:
            self.fields.append(field.name)
            through = getattr(sample, field.name).model
            names = [
                f.name
                for f in through._meta.fields
                if f.editable and f.name not in ("id", "m2m_history_id", "history")
            ]
            order = get_m2m_reverse_field_name(sample.instance_type._meta.get_field(field.name))
            for row in (
                through.objects.filter(history_id__in=ids)
                .order_by(order)
                .values("history_id", *names)
            ):
                key = (field.name, row.pop("history_id"))
                self.rows.setdefault(key, []).append(row)

    def changes(self, record, previous) -> list[ModelChange]:
        return [
            ModelChange(name, old, new)
            for name in self.fields
            if (old := self.rows.get((name, previous.history_id), []))
            != (new := self.rows.get((name, record.history_id), []))
        ]


def _entries_for(records: list, object_type: str, *, previous, m2m: M2MRows) -> list[tuple]:
    """``(record, entry)`` for each of one object's ``records`` (oldest first) that
    made a change; ``previous``: the record before the first (None: it is the first);
    ``m2m``: the records' many-to-many rows, ``previous``'s included. Names of related
    rows are left to ``_named``."""
    entries = []
    for record in records:
        changes: list[FieldChange] = []
        if previous is not None:
            found = sorted(
                [*_field_changes(record, previous), *m2m.changes(record, previous)], key=_by_field
            )
            for change in found:
                if change.field in _HISTORY_HIDDEN:
                    continue
                field = record.instance_type._meta.get_field(change.field)
                changes.append(
                    FieldChange(
                        field=change.field,
                        label=str(field.verbose_name),
                        old=_display(record, change.field, change.old),
                        new=_display(record, change.field, change.new),
                    )
                )
        action = {"+": "created", "~": "changed", "-": "deleted"}[record.history_type]
        if previous is None or changes or action != "changed":
            entry = HistoryEntry(
                at=record.history_date,
                user=record.history_user.get_username() if record.history_user else None,
                object_type=object_type,
                object_id=record.id,
                action=action,
                reason=record.history_change_reason or "",
                changes=tuple(changes),
            )
            entries.append((record, entry))
        previous = record
    return entries


def _by_field(change: ModelChange) -> str:
    return change.field


@cache
def _diffed_fields(history_model: type) -> tuple[tuple[str, str], ...]:
    """``(name, attname)`` of the fields ``diff_against`` compares (the tracked,
    editable, non-many-to-many ones), sorted by name."""
    meta = history_model._meta
    m2m = {field.name for field in history_model._history_m2m_fields}
    names = {field.name for field in history_model.tracked_fields if field.editable} - m2m
    return tuple(
        sorted(
            (field.name, field.attname)
            for field in meta.concrete_fields
            if field.editable and field.name in names
        )
    )


def _field_changes(record, previous) -> list[ModelChange]:
    """What ``record.diff_against(previous)`` finds in its own fields, without the two
    ``model_to_dict`` of each record that were most of a long trail's cost."""
    return [
        ModelChange(name, old, new)
        for name, attname in _diffed_fields(type(record))
        if (old := getattr(previous, attname)) != (new := getattr(record, attname))
    ]


def _streams(incident: Incident) -> list[QuerySet]:
    revised = TimelineEvent.objects.filter(incident=incident, kind=TimelineEvent.Kind.NOTE).filter(
        Q(edited_at__isnull=False) | Q(struck_at__isnull=False)
    )
    return [
        Incident.history.filter(id=incident.pk),
        Decision.history.filter(incident_id=incident.pk),
        TimelineEvent.history.filter(id__in=revised.values("pk")),
    ]


def _keyed(stream: int, name: str, fetched: list, previous: dict) -> list[tuple]:
    by_object: dict[int, list] = {}
    for record in fetched:
        by_object.setdefault(record.id, []).append(record)
    m2m = M2MRows([*fetched, *previous.values()])
    return [
        (HistoryKey(record.history_date, stream, record.history_id), entry)
        for object_id, of_one in by_object.items()
        for record, entry in _entries_for(of_one, name, previous=previous.get(object_id), m2m=m2m)
    ]


def incident_history(*, incident: Incident) -> list[HistoryEntry]:
    """The whole trail, oldest first: what the pages of ``history_page`` add up to
    (the tests hold the pages to it); no page reads it, a long trail is unbounded."""
    keyed = []
    for stream, (name, records) in enumerate(zip(STREAMS, _streams(incident), strict=True)):
        fetched = list(
            records.select_related("history_user").order_by("history_date", "history_id")
        )
        keyed += _keyed(stream, name, fetched, previous={})
    keyed.sort(key=lambda pair: pair[0].order())
    return _named([entry for _, entry in keyed])


def _after(stream: int, after: HistoryKey) -> Q:
    """This stream's records whose key is greater than ``after``."""
    if stream > after.stream:
        return Q(history_date__gte=after.at)
    if stream < after.stream:
        return Q(history_date__gt=after.at)
    return Q(history_date__gt=after.at) | Q(history_date=after.at, history_id__gt=after.history_id)


def _predecessors(records: QuerySet, ids: set[int], before: Q) -> dict[int, object]:
    """Each object's latest record before the page (what its first record changed)."""
    latest = (
        records.filter(before, id__in=ids)
        .select_related("history_user")
        .annotate(
            newest=Window(
                RowNumber(),
                partition_by=[F("id")],
                order_by=[F("history_date").desc(), F("history_id").desc()],
            )
        )
        .filter(newest=1)
    )
    return {record.id: record for record in latest}


def history_page(*, incident: Incident, size: int, after: HistoryKey | None) -> HistoryPage:
    """Up to ``size`` entries of the trail after ``after`` (from the start when None),
    oldest first, and the key to continue from (None at the end)."""
    keyed: list[tuple[HistoryKey, HistoryEntry]] = []
    cutoff: HistoryKey | None = None  # nothing past the end of a stream read only in part
    for stream, (name, records) in enumerate(zip(STREAMS, _streams(incident), strict=True)):
        window = records.filter(_after(stream, after)) if after else records
        ordered = window.select_related("history_user").order_by("history_date", "history_id")
        fetched = list(ordered[: size + 1])
        if not fetched:
            continue
        if len(fetched) > size:
            last = HistoryKey(fetched[-1].history_date, stream, fetched[-1].history_id)
            cutoff = last if cutoff is None else min(cutoff, last, key=HistoryKey.order)
        ids = {record.id for record in fetched}
        previous = _predecessors(records, ids, ~_after(stream, after)) if after else {}
        keyed += _keyed(stream, name, fetched, previous)
    if cutoff is not None:
        keyed = [pair for pair in keyed if pair[0].order() <= cutoff.order()]
    keyed.sort(key=lambda pair: pair[0].order())
    if len(keyed) > size:
        return HistoryPage(_named([entry for _, entry in keyed[:size]]), keyed[size - 1][0])
    return HistoryPage(_named([entry for _, entry in keyed]), next_after=cutoff)
