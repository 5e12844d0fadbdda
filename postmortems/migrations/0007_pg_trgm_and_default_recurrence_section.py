"""The trigram extension the recurrence search ranks titles with (PostgreSQL only;
``IF NOT EXISTS``: another app may create it too, and it is never dropped here), and a
*Recurrence* section at the end of the current default template."""

from django.db import migrations

RECURRENCE = (
    "recurrence",
    "Recurrence — have we met this before?",
    "recurrence",
    "Similar past incidents Keel found (services, failure patterns, failure points, middleware, "
    "alert names, text), what was chosen to fix them and whether their action items were done. "
    "Say why it came back, or strike the ones that are not alike.",
)


def create_extension(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")


def add_section(apps, schema_editor):
    TemplateSection = apps.get_model("postmortems", "TemplateSection")
    template = apps.get_model("postmortems", "PostmortemTemplate").objects.filter(
        family="default", is_current=True
    ).first()
    if template is None or template.sections.filter(key=RECURRENCE[0]).exists():
        return
    last = template.sections.order_by("-position").first()
    key, title, kind, help_text = RECURRENCE
    TemplateSection.objects.create(
        template=template,
        position=(last.position + 1) if last else 0,
        key=key,
        title=title,
        kind=kind,
        help_text=help_text,
    )


def remove_section(apps, schema_editor):
    apps.get_model("postmortems", "TemplateSection").objects.filter(
        template__family="default", key=RECURRENCE[0]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("postmortems", "0006_action_item_evidence_recurrence_section")]

    operations = [
        migrations.RunPython(create_extension, migrations.RunPython.noop),
        migrations.RunPython(add_section, remove_section),
    ]
