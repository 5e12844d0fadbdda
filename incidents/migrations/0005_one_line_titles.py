"""Titles stored before single-line validation may hold line breaks (a multi-line
Alertmanager summary was enough): put them on one line, so the next save of the
incident (which validates) and every email subject built from it succeed."""

import re

from django.db import migrations

_CONTROL_OR_SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")


def one_line_titles(apps, schema_editor):
    Incident = apps.get_model("incidents", "Incident")
    for incident in Incident.objects.filter(title__regex=r"[\n\r\t\u2028\u2029]").iterator():
        incident.title = _CONTROL_OR_SPACE.sub(" ", incident.title).strip() or "Untitled"
        incident.save(update_fields=["title"])


class Migration(migrations.Migration):
    dependencies = [("incidents", "0004_single_line_validators")]

    operations = [migrations.RunPython(one_line_titles, migrations.RunPython.noop)]
