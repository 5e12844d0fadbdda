from django.db import migrations

SEVERITIES = [
    {
        "code": "SEV1",
        "name": "Critical",
        "rank": 1,
        "definition": "Core service down or data at risk for most users; material loss or an "
        "SLA breach is under way.",
        "required_response": "Page the on-call commander now; all hands; business team and CS "
        "told at once; public status page; updates every 30 minutes; postmortem required.",
        "postmortem_required": True,
        "update_interval_minutes": 30,
        "page_business_team": True,
    },
    {
        "code": "SEV2",
        "name": "Major",
        "rank": 2,
        "definition": "A major feature is broken or badly degraded for many users; no workaround.",
        "required_response": "Commander and responders within 15 minutes; CS and business team "
        "told; status page when customers notice; updates hourly; postmortem required.",
        "postmortem_required": True,
        "update_interval_minutes": 60,
        "page_business_team": True,
    },
    {
        "code": "SEV3",
        "name": "Minor",
        "rank": 3,
        "definition": "A feature degraded for some users, or a workaround exists.",
        "required_response": "Owning team during working hours; CS told; updates every "
        "two hours; postmortem at the team's discretion.",
        "postmortem_required": False,
        "update_interval_minutes": 120,
        "page_business_team": False,
    },
    {
        "code": "SEV4",
        "name": "Low",
        "rank": 4,
        "definition": "Cosmetic or internal-only impact; no customer-visible harm.",
        "required_response": "Track in the owning team's queue; no paging.",
        "postmortem_required": False,
        "update_interval_minutes": 240,
        "page_business_team": False,
    },
]

GROUPS = ["Responders", "Viewers", "Admins"]


def seed(apps, schema_editor):
    Severity = apps.get_model("incidents", "Severity")
    Group = apps.get_model("auth", "Group")
    for row in SEVERITIES:
        Severity.objects.update_or_create(code=row["code"], defaults=row)
    for name in GROUPS:
        Group.objects.get_or_create(name=name)


def unseed(apps, schema_editor):
    apps.get_model("incidents", "Severity").objects.filter(
        code__in=[row["code"] for row in SEVERITIES], incidents__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
