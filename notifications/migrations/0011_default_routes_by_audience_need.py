"""Routing defaults by what each team needs (issue 8): the business list hears SEV1–SEV2
declarations, severity changes, restoration, reopening, postmortems and public updates,
not every internal stage note; CS hears what it needs to answer customers.

Only an audience whose routes are still exactly the old defaults is changed: an
install that edited its routing keeps it. Routes naming the "stage" kind also get
the new "resolved" and "reopened" kinds (restoring and reopening were stage updates),
and those naming "manual" get "postmortem" (a published postmortem was one), so a
custom route keeps matching what it matched. The CS wording drops its one-line
"Next update by —. Internal incident: …" for a line each (an empty line is left out).
Email deliveries written before get their subject, which is now stored with them."""

from django.db import migrations

# (name, severities, update kinds, only public) — 0002's table, per audience.
OLD_ROUTES = {
    "business": {("SEV1/SEV2 reach the business team", ("SEV1", "SEV2"), (), False)},
    "cs": {
        ("Every public update reaches CS", (), (), True),
        ("Declared SEV1/SEV2 reach CS at once", ("SEV1", "SEV2"), ("declared",), False),
    },
}
STAKEHOLDER = ("declared", "severity", "resolved", "reopened")
NEW_ROUTES = {
    "cs": [
        (
            "CS: SEV1-SEV3 declared, severity changed, restored, reopened",
            ("SEV1", "SEV2", "SEV3"),
            STAKEHOLDER,
            False,
        ),
        ("Every public update reaches CS", (), (), True),
    ],
    "business": [
        (
            "Business: SEV1-SEV2 declared, severity changed, restored, reopened, postmortem",
            ("SEV1", "SEV2"),
            (*STAKEHOLDER, "postmortem"),
            False,
        ),
        ("Every public update reaches the business team", (), (), True),
    ],
}
OLD_CS_TEMPLATE = (
    "Customer impact: {features} ({public_status})\n{message}\n"
    "Next update by {next_update}. Internal incident: {url}"
)
NEW_CS_TEMPLATE = (
    "Customer impact: {features} ({public_status})\n{message}\n"
    "Next update by {next_update}.\nInternal incident: {url}"
)


def _definition(route) -> tuple:
    return (
        route.name,
        tuple(sorted(route.severities.values_list("code", flat=True))),
        tuple(route.update_kinds or ()),
        route.only_public_updates,
    )


def _untouched(routes) -> bool:
    return all(r.active and not r.services.exists() for r in routes)


def forward(apps, schema_editor):
    Audience = apps.get_model("notifications", "Audience")
    Route = apps.get_model("notifications", "Route")
    Severity = apps.get_model("incidents", "Severity")
    Delivery = apps.get_model("notifications", "Delivery")

    for route in Route.objects.exclude(update_kinds=[]):
        kinds = list(route.update_kinds)
        if "stage" in kinds:
            kinds += [k for k in ("resolved", "reopened") if k not in kinds]
        if "manual" in kinds and "postmortem" not in kinds:
            kinds.append("postmortem")
        if kinds != route.update_kinds:
            route.update_kinds = kinds
            route.save(update_fields=["update_kinds"])

    for slug, old in OLD_ROUTES.items():
        audience = Audience.objects.filter(slug=slug).first()
        if audience is None:
            continue
        routes = list(Route.objects.filter(audience=audience))
        if {_definition(r) for r in routes} != old or not _untouched(routes):
            continue  # edited by someone: theirs to keep
        keep = {name for name, *_ in NEW_ROUTES[slug]}
        Route.objects.filter(pk__in=[r.pk for r in routes if r.name not in keep]).delete()
        for name, severities, kinds, only_public in NEW_ROUTES[slug]:
            route, created = Route.objects.get_or_create(
                name=name,
                audience=audience,
                defaults={"update_kinds": list(kinds), "only_public_updates": only_public},
            )
            if created and severities:
                route.severities.set(Severity.objects.filter(code__in=severities))

    Audience.objects.filter(slug="cs", message_template=OLD_CS_TEMPLATE).update(
        message_template=NEW_CS_TEMPLATE
    )

    blank = Delivery.objects.filter(destination__kind="email", rendered_subject="").select_related(
        "update__incident__severity"
    )
    batch = []
    for delivery in blank.iterator(chunk_size=500):
        incident = delivery.update.incident
        delivery.rendered_subject = f"[{incident.severity.code}] #{incident.pk} {incident.title}"[
            :250
        ]
        batch.append(delivery)
        if len(batch) == 500:
            Delivery.objects.bulk_update(batch, ["rendered_subject"])
            batch = []
    Delivery.objects.bulk_update(batch, ["rendered_subject"])


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0010_delivery_rendered_subject_thread_failure"),
        ("incidents", "0002_seed_severities_and_roles"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
