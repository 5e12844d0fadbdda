"""Export and import (common/backup.py, `manage.py export` / `manage.py import`): a backup
restores into an empty database with identical content; a bad file changes nothing."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.core.management.color import no_style
from django.core.management.sql import emit_post_migrate_signal
from django.db import connection
from django.utils import timezone

from common import backup
from common.models import ApiToken
from incidents.models import Incident, Severity
from postmortems.models import ActionItem, Postmortem
from statuspage.models import Component
from statuspage.subscriber_models import Subscriber
from tests.factories.common import api_key
from tests.factories.incidents import UserFactory
from tests.factories.postmortems import big_postmortem

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _data() -> None:
    """Incidents in every stage (the demo), a postmortem with metrics and action items,
    a status page with a maintenance, a subscriber, an API token: the audit history of
    all of it comes along."""
    call_command("load_demo", stdout=io.StringIO())
    call_command("load_demo_statuspage", stdout=io.StringIO())
    big_postmortem(events=5, series=2, points=5, items=3)
    subscriber = Subscriber.objects.create(
        kind=Subscriber.Kind.EMAIL, email="reader@example.test", confirmed_at=timezone.now()
    )
    subscriber.components.set(Component.objects.all()[:2])
    api_key(UserFactory(username="bot", role="responder"), name="alertmanager")


def _export() -> list[str]:
    out = io.StringIO()
    backup.export_to(out)
    return out.getvalue().splitlines()


def _empty_database() -> None:
    """What a freshly migrated database holds: every table emptied, then post_migrate
    re-creates content types and permissions, with new ids. Sequences are not reset
    (as ``flush`` would): the rows the next test restores must not collide with them."""
    tables = connection.introspection.django_table_names(only_existing=True)
    connection.ops.execute_sql_flush(
        connection.ops.sql_flush(no_style(), tables, reset_sequences=False, allow_cascade=True)
    )
    emit_post_migrate_signal(verbosity=0, interactive=False, db=connection.alias)


def _write(tmp_path, lines: list[str], name: str = "keel.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_export_then_import_into_an_empty_database_restores_identical_content(tmp_path):
    _data()
    before = _export()
    incident = Incident.objects.order_by("pk").first()
    highest = Incident.objects.order_by("-pk").first().pk
    path = _write(tmp_path, before)
    _empty_database()

    err = io.StringIO()
    call_command("import", str(path), stderr=err)

    after = _export()
    assert after[1:] == before[1:]  # every row and the trailer; the header has the time
    counts = json.loads(before[-1])["counts"]
    assert f"Imported {sum(counts.values())} rows of {len(counts)} tables." in err.getvalue()
    assert counts["postmortems.actionitem"] == 3 and ActionItem.objects.count() == 3
    assert Postmortem.objects.count() == 1
    assert Incident.history.count() == counts["incidents.historicalincident"]
    assert ApiToken.objects.get(name="alertmanager").user.username == "bot"
    assert set(Subscriber.objects.get().components.values_list("pk", flat=True))
    # Times keep every microsecond (Django's JSON encoder would cut them to milliseconds).
    assert Incident.objects.get(pk=incident.pk).detected_at == incident.detected_at
    # What is left out is runtime state, and said so.
    assert not {json.loads(line).get("model") for line in after} & set(backup.LEFT_OUT)
    assert json.loads(after[0])["database"] == connection.vendor
    # The sequences follow the restored ids: the next incident gets a fresh one.
    copy = Incident.objects.get(pk=incident.pk)
    copy.pk = None
    copy.save()
    assert copy.pk > highest


def test_dry_runs_change_nothing_and_a_database_with_data_is_refused(tmp_path):
    _data()
    path = _write(tmp_path, _export())
    count = Incident.objects.count()
    with pytest.raises(CommandError, match="already has users or incidents"):
        call_command("import", str(path), stderr=io.StringIO())
    assert Incident.objects.count() == count

    dry = tmp_path / "dry.jsonl"
    err = io.StringIO()
    call_command("export", str(dry), "--dry-run", stderr=err)
    assert not dry.exists() and "Would write" in err.getvalue()
    assert "common.idempotencykey: replay cache" in err.getvalue()

    _empty_database()
    severities = sorted(Severity.objects.values_list("code", flat=True))
    err = io.StringIO()
    call_command("import", str(path), "--dry-run", stderr=err)
    assert "rolled back" in err.getvalue()
    assert not Incident.objects.exists()
    assert sorted(Severity.objects.values_list("code", flat=True)) == severities


def test_a_cut_short_file_or_a_failing_row_is_refused_by_name_and_nothing_stays(tmp_path):
    _data()
    lines = _export()
    cut = _write(tmp_path, lines[: len(lines) // 2], "cut.jsonl")
    number, broken = next(
        (i, json.loads(line))
        for i, line in enumerate(lines)
        if '"model": "incidents.incident"' in line
    )
    broken["fields"]["severity"] = "not a number"
    broken_file = _write(tmp_path, [*lines[:number], json.dumps(broken), *lines[number + 1 :]])
    _empty_database()

    with pytest.raises(CommandError, match="cut short"):
        call_command("import", str(cut), stderr=io.StringIO())
    assert not Incident.objects.exists()

    with pytest.raises(CommandError) as refused:
        call_command("import", str(broken_file), stderr=io.StringIO())
    assert f"Line {number + 1}: incidents.incident pk {broken['pk']}" in str(refused.value)
    assert not Incident.objects.exists()


def test_a_file_from_a_newer_keel_is_refused_before_anything_is_written(tmp_path):
    header = {
        "format": "keel-export",
        "version": 1,
        "migrations": {"incidents": ["0001_initial", "0999_from_the_future"]},
    }
    path = tmp_path / "future.jsonl"
    path.write_text(json.dumps(header) + "\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"newer Keel.*incidents\.0999_from_the_future"):
        call_command("import", str(path), stderr=io.StringIO())

    path.write_text(json.dumps({**header, "version": 2, "migrations": {}}) + "\n")
    with pytest.raises(CommandError, match="version 2; this Keel reads version 1"):
        call_command("import", str(path), stderr=io.StringIO())

    path.write_text("not json\n")
    with pytest.raises(CommandError, match="not a Keel export"):
        call_command("import", str(path), stderr=io.StringIO())


def test_import_refuses_a_non_local_database_without_the_flag(tmp_path, monkeypatch):
    path = tmp_path / "keel.jsonl"
    path.write_text("{}\n")
    monkeypatch.setattr(backup, "is_local_database", lambda: False)
    with pytest.raises(CommandError, match="--allow-remote-database"):
        call_command("import", str(path), stderr=io.StringIO())
