"""Export and import of all of Keel's data as versioned JSON Lines (a backup that
restores into an empty database with identical content).

The file is one JSON document per line, so both ways stream with flat memory:

- a header ``{"format": "keel-export", "version": 1, "exported_at", "database",
  "migrations": {app: [applied migration names]}}``;
- one line per row, Django's serialized form ``{"model", "pk", "fields"}``, primary keys
  kept (every reference in the data, audit history included, stays valid);
- a trailer ``{"end": true, "counts": {model: rows}}``: a file without it was cut short
  and is refused.

What is left out is runtime state that the running system rebuilds and that would be
wrong after a restore (``LEFT_OUT``). References to content types and permissions are
written by natural key (``["incidents", "incident"]``), since their ids are assigned by
``migrate`` and can differ between databases.

The apps are found through the app registry, not imported, so this kernel module
depends on no app.
"""

import datetime
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.core.management.color import no_style
from django.core.serializers import base as serializer_base
from django.core.serializers import python as python_serializer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

FORMAT = "keel-export"
VERSION = 1
APP_LABELS = ("auth", "admin", "common", "incidents", "postmortems", "notifications", "statuspage")
LEFT_OUT = {
    "auth.permission": "created by migrate; referenced by natural key",
    "common.idempotencykey": "replay cache of API requests, valid for hours only",
    "notifications.circuitbreaker": "live state of each destination, rebuilt from new attempts",
    "notifications.workerheartbeat": "the workers' liveness beacon, rewritten every minute",
    "notifications.slackrequest": "replay guard for Slack's signed requests (minutes)",
}
CHUNK = 500
# These models' ids come from ``migrate``; rows refer to them by natural key instead.
_NATURAL = (ContentType, Permission)
LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


class BackupError(Exception):
    """The file cannot be imported (or the database cannot take it), with why."""


def exported_models() -> list:
    """The models a backup holds, in an order that loads (referenced models first)."""
    chosen = [
        (config, [m for m in config.get_models() if str(m._meta) not in LEFT_OUT])
        for config in (apps.get_app_config(label) for label in APP_LABELS)
    ]
    return [
        model
        for model in serializers.sort_dependencies(chosen, allow_cycles=True)
        if not model._meta.proxy and model._meta.managed
    ]


def is_local_database() -> bool:
    host = connection.settings_dict.get("HOST") or ""
    return host in LOCAL_HOSTS or host.startswith("/") or connection.vendor == "sqlite"


class _Serializer(python_serializer.Serializer):
    """Django's row serializer, with natural keys only for content types and permissions."""

    def handle_fk_field(self, obj, field):
        self.use_natural_foreign_keys = field.remote_field.model in _NATURAL
        super().handle_fk_field(obj, field)

    def handle_m2m_field(self, obj, field):
        self.use_natural_foreign_keys = field.remote_field.model in _NATURAL
        super().handle_m2m_field(obj, field)


def _applied_migrations() -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in sorted(MigrationRecorder(connection).applied_migrations()):
        applied.setdefault(app, []).append(name)
    return applied


def _rows(model) -> Iterator[dict]:
    """Every row of ``model`` in primary-key order, ``CHUNK`` at a time (flat memory)."""
    m2m = [f.name for f in model._meta.many_to_many if f.remote_field.through._meta.auto_created]
    queryset = model._default_manager.order_by("pk")
    last = None
    while True:
        page = queryset if last is None else queryset.filter(pk__gt=last)
        chunk = list(page.prefetch_related(*m2m)[:CHUNK])
        if not chunk:
            return
        yield from _Serializer().serialize(chunk)
        last = chunk[-1].pk


class _Encoder(DjangoJSONEncoder):
    """Django's encoder cuts times to milliseconds; a backup keeps every microsecond."""

    def default(self, o):
        if isinstance(o, datetime.datetime | datetime.time):
            return o.isoformat()
        return super().default(o)


def _line(document: dict) -> str:
    return json.dumps(document, cls=_Encoder, ensure_ascii=False, sort_keys=True) + "\n"


@dataclass
class Summary:
    counts: Counter = field(default_factory=Counter)
    left_out: dict = field(default_factory=lambda: dict(LEFT_OUT))


def export_to(stream: IO[str], *, progress: Callable[[str], None] = lambda label: None) -> Summary:
    """Write the backup to ``stream``. Read in one repeatable-read snapshot on
    PostgreSQL, so rows written meanwhile cannot leave references dangling."""
    summary = Summary()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        stream.write(
            _line(
                {
                    "format": FORMAT,
                    "version": VERSION,
                    "exported_at": timezone.now(),
                    "database": connection.vendor,
                    "migrations": _applied_migrations(),
                }
            )
        )
        for model in exported_models():
            label = str(model._meta)
            for row in _rows(model):
                stream.write(_line(row))
                summary.counts[label] += 1
                progress(label)
        stream.write(_line({"end": True, "counts": dict(sorted(summary.counts.items()))}))
    return summary


def _header(first_line: str) -> dict:
    try:
        header = json.loads(first_line)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupError("Line 1: this is not a Keel export (no keel-export header).")
    if header.get("version") != VERSION:
        raise BackupError(
            f"Line 1: export format version {header.get('version')!r}; this Keel reads "
            f"version {VERSION}."
        )
    here = _applied_migrations()
    missing = [
        f"{app}.{name}"
        for app, names in (header.get("migrations") or {}).items()
        for name in names
        if app in APP_LABELS and name not in here.get(app, [])
    ]
    if missing:
        raise BackupError(
            "The export was written by a newer Keel: its database had migrations this one "
            f"has not applied ({', '.join(missing[:5])}). Upgrade Keel and run migrate first."
        )
    return header


def _refuse_unless_fresh() -> None:
    user_model = apps.get_model("auth", "User")
    incident_model = apps.get_model("incidents", "Incident")
    if user_model.objects.exists() or incident_model.objects.exists():
        raise BackupError(
            "The database already has users or incidents. Import restores into an empty, "
            "migrated database only (create one, run migrate, then import)."
        )


def _clear_seeded_rows() -> None:
    """Remove what migrations seeded (severities, roles, default audiences, the
    default template): the backup carries the same rows with their own ids."""
    for label in APP_LABELS:
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            if str(model._meta) not in LEFT_OUT:
                model._base_manager.all()._raw_delete(connection.alias)


def _reset_sequences(models: list) -> None:
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def _objects(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, dict]]:
    """The rows of the file with their line numbers; the trailer's counts are checked."""
    counts: Counter = Counter()
    for number, text in lines:
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise BackupError(f"Line {number}: not JSON ({exc.msg}).") from exc
        if document.get("end") is True:
            if dict(counts) != document.get("counts"):
                raise BackupError(
                    f"Line {number}: the trailer counts {document.get('counts')} rows, "
                    f"the file holds {dict(counts)}."
                )
            return
        counts[document.get("model")] += 1
        yield number, document
    raise BackupError("The file ends without its trailer: it was cut short.")


class _DryRun(Exception):
    pass


def import_from(
    stream: IO[str], *, dry_run: bool = False, progress: Callable[[str], None] = lambda label: None
) -> Summary:
    """Load a backup into a freshly migrated database, in one transaction: all of it
    or nothing. A failing row is named (line, model, primary key) and nothing stays.
    ``dry_run`` does every write and check, then rolls back."""
    lines = enumerate(stream, start=1)
    first = next(lines, (1, ""))[1]
    _header(first)
    known = {str(model._meta): model for model in exported_models()}
    summary = Summary()
    try:
        with transaction.atomic():
            _refuse_unless_fresh()
            _clear_seeded_rows()
            with connection.constraint_checks_disabled():
                for number, document in _objects(lines):
                    _load(number, document, known)
                    summary.counts[document["model"]] += 1
                    progress(document["model"])
            _check_references(known)
            _reset_sequences(list(known.values()))
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return summary


def _load(number: int, document: dict, known: dict) -> None:
    label, pk = document.get("model"), document.get("pk")
    if label not in known:
        raise BackupError(f"Line {number}: unknown model {label!r} (pk {pk!r}).")
    try:
        for obj in python_serializer.Deserializer([document]):
            # The file carries the audit history itself: saving must not add to it.
            obj.object.skip_history_when_saving = True
            obj.save()
    except (serializer_base.DeserializationError, DatabaseError, ValueError) as exc:
        raise BackupError(f"Line {number}: {label} pk {pk!r} cannot be stored: {exc}") from exc


def _check_references(known: dict) -> None:
    """Every reference points at an imported row (checked once, at the end, since
    rows may come before what they refer to)."""
    tables = [model._meta.db_table for model in known.values()]
    try:
        connection.check_constraints(table_names=tables)
    except Exception as exc:  # IntegrityError on SQLite, DatabaseError on PostgreSQL
        raise BackupError(f"A row refers to one the file does not hold: {exc}") from exc
