"""Indexes for lists that stay fast with ten years of incidents (issue 17): newest
first (keyset on detected_at, id), the same for open incidents only, and trigram
indexes for the text search (``UPPER(col) LIKE UPPER('%word%')``, what ``icontains``
writes on PostgreSQL). pg_trgm and GIN exist only on PostgreSQL: elsewhere (SQLite)
the trigram step does nothing and the search stays a plain substring match."""

from django.conf import settings
from django.db import migrations, models

TRIGRAM_INDEXES = {
    "incident_title_trgm": "UPPER(title::text)",
    "incident_summary_trgm": "UPPER(summary::text)",
}


def trigram_indexes_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in TRIGRAM_INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON incidents_incident "
            f"USING gin (({expression}) gin_trgm_ops)"
        )


def trigram_indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0011_alert_sources"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(model_name="incident", name="incidents_i_detecte_7ea0db_idx"),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(fields=["-detected_at", "-id"], name="incident_newest_first"),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=models.Q(("closed_at__isnull", True)),
                fields=["-detected_at", "-id"],
                name="incident_open_newest_first",
            ),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(fields=["-updated_at"], name="incident_latest_change"),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=models.Q(("private", True)), fields=["id"], name="incident_private"
            ),
        ),
        migrations.RunPython(trigram_indexes_create, trigram_indexes_drop, elidable=False),
    ]
