"""Incidents closed before outcomes existed were all resolved; notes written before
their history was kept get the row simple-history would have written, so their first
edit keeps the original text."""

from django.db import migrations


def closed_ones_were_resolved(apps, schema_editor):
    Incident = apps.get_model("incidents", "Incident")
    Incident.objects.filter(closed_at__isnull=False, outcome="").update(outcome="resolved")
    HistoricalIncident = apps.get_model("incidents", "HistoricalIncident")
    HistoricalIncident.objects.filter(closed_at__isnull=False, outcome="").update(
        outcome="resolved"
    )


def notes_have_their_first_history_row(apps, schema_editor):
    TimelineEvent = apps.get_model("incidents", "TimelineEvent")
    HistoricalTimelineEvent = apps.get_model("incidents", "HistoricalTimelineEvent")
    fields = [
        field.attname
        for field in TimelineEvent._meta.concrete_fields
        if field.attname not in ("data",)
    ]
    rows = []
    for note in TimelineEvent.objects.filter(kind="note").iterator():
        rows.append(
            HistoricalTimelineEvent(
                **{name: getattr(note, name) for name in fields},
                history_date=note.occurred_at,
                history_type="+",
                history_user_id=note.actor_id,
                history_change_reason="note added",
            )
        )
        if len(rows) >= 500:
            HistoricalTimelineEvent.objects.bulk_create(rows)
            rows = []
    HistoricalTimelineEvent.objects.bulk_create(rows)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0006_close_outcomes_corrections_note_history")]

    operations = [
        migrations.RunPython(closed_ones_were_resolved, migrations.RunPython.noop),
        migrations.RunPython(notes_have_their_first_history_row, migrations.RunPython.noop),
    ]
