from django.db import migrations

AUDIENCES = [
    (
        "responders",
        "Responders",
        "On-call engineers and everyone working the incident.",
        "[{severity}] #{id} {title} — {stage}\n{message}\n{url}",
    ),
    (
        "cs",
        "CS team",
        "Customer support: answer customers fast (seed 002).",
        "Customer impact: {features} ({public_status})\n{message}\n"
        "Next update by {next_update}. Internal incident: {url}",
    ),
    (
        "business",
        "Business team",
        "Prepares notices and weighs impact (seed 002).",
        "[{severity}] {title} — {stage}\nImpact: {impact}\nServices: {services}\n{message}\n{url}",
    ),
    (
        "public",
        "Public",
        "Customers, through the public status page.",
        "{message}",
    ),
]

# (name, audience, severities, update kinds, only public updates)
ROUTES = [
    ("Every update reaches the responders", "responders", [], [], False),
    ("SEV1/SEV2 reach the business team", "business", ["SEV1", "SEV2"], [], False),
    ("Every public update reaches CS", "cs", [], [], True),
    ("Declared SEV1/SEV2 reach CS at once", "cs", ["SEV1", "SEV2"], ["declared"], False),
]


def seed(apps, schema_editor):
    Audience = apps.get_model("notifications", "Audience")
    Route = apps.get_model("notifications", "Route")
    Severity = apps.get_model("incidents", "Severity")
    audiences = {}
    for slug, name, description, template in AUDIENCES:
        audiences[slug], _ = Audience.objects.get_or_create(
            slug=slug,
            defaults={"name": name, "description": description, "message_template": template},
        )
    for name, audience, severities, kinds, only_public in ROUTES:
        route, created = Route.objects.get_or_create(
            name=name,
            defaults={
                "audience": audiences[audience],
                "update_kinds": kinds,
                "only_public_updates": only_public,
            },
        )
        if created and severities:
            route.severities.set(Severity.objects.filter(code__in=severities))


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("incidents", "0002_seed_severities_and_roles"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
