"""The default postmortem template: DESIGN.md's sections (seed 002) with seed 003's
incident report folded in — "what happened that day" is the summary, "cause" the
root cause analysis, short-term and long-term fixes the action items' two terms."""

from django.db import migrations

SECTIONS = [
    ("summary", "Summary — what happened that day", "markdown",
     "What happened that day, in a few sentences a reader outside the team understands."),
    ("impact", "Impact", "markdown",
     "Users affected (count or share), features and services, estimated loss, compensation, "
     "SLA minutes breached."),
    ("timeline", "Timeline", "timeline",
     "Detect → propagate → judge → recover → analyze → share → retrospect, generated from the "
     "incident; edit freely — the generated version is kept."),
    ("detection", "Detection", "markdown",
     "How and by what it was detected, time to detect, and whether we knew before customers."),
    ("metrics", "Anomaly metrics", "metrics",
     "Each metric before, during and after, its threshold and when it was crossed; paste a time "
     "series to plot it against the threshold and the incident window."),
    ("thresholds", "Thresholds", "thresholds",
     "The alerting thresholds that applied, and whether they should change."),
    ("log_window", "Error log window", "log_window",
     "Start and end of the error logs, a link, and an excerpt long enough to understand."),
    ("failure_points", "Failure points", "failure_points",
     "Where connections failed: component, what it connects to, what failed, when."),
    ("middleware", "Middleware and connected applications", "middleware",
     "Related middleware (MQ, Redis, ...) and connected applications, and their trend."),
    ("remediations", "Remediation options", "remediations",
     "The solutions proposed, with pros and cons; exactly one adopted, and why."),
    ("root_cause", "Root cause analysis — cause", "root_cause",
     "The cause in detail: contributing factors, failure patterns, five whys."),
    ("went_well", "What went well, badly, and where we got lucky", "went_well", ""),
    ("action_items", "Action items — short-term and long-term fixes", "action_items",
     "Short-term fixes and long-term fixes, each with an owner, a due date and a status."),
]


def create(apps, schema_editor):
    Template = apps.get_model("postmortems", "PostmortemTemplate")
    TemplateSection = apps.get_model("postmortems", "TemplateSection")
    if Template.objects.filter(family="default").exists():
        return
    template = Template.objects.create(
        family="default", name="Default postmortem", version=1, is_current=True, is_default=True
    )
    TemplateSection.objects.bulk_create(
        TemplateSection(
            template=template, position=i, key=key, title=title, kind=kind, help_text=help_text
        )
        for i, (key, title, kind, help_text) in enumerate(SECTIONS)
    )


def remove(apps, schema_editor):
    apps.get_model("postmortems", "PostmortemTemplate").objects.filter(
        family="default", postmortems__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("postmortems", "0001_initial")]

    operations = [migrations.RunPython(create, remove)]
