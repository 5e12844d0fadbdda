"""The default routes (README "Default routes"): who hears what without anyone choosing,
the lifecycle's update kinds that tell stakeholder news from working notes, and the
migration that moves installs still on the old defaults (and only those)."""

import importlib

import pytest
from django.apps import apps

from incidents import services as incident_services
from notifications import services
from notifications.defaults import DEFAULT_ROUTES
from notifications.models import Route, StatusUpdate, UpdateKind
from tests.factories.incidents import ServiceFactory, severity
from tests.factories.notifications import audience

pytestmark = pytest.mark.django_db

migration = importlib.import_module("notifications.migrations.0011_default_routes_by_audience_need")


def declare(actor, code):
    return incident_services.incident_declare(
        title="Search is slow", severity=severity(code), actor=actor
    )


def routed(incident, kind, *, public=False, previous=None) -> list[str]:
    return [
        a.slug
        for a in services.audiences_routed(
            incident=incident,
            kind=kind,
            public=public,
            previous_severity=severity(previous) if previous else None,
        )
    ]


R, CS, B = "responders", "cs", "business"


@pytest.mark.parametrize(
    "code, kind, public, expected",
    [
        # Responders hear everything.
        ("SEV4", UpdateKind.MANUAL, False, [R]),
        ("SEV4", UpdateKind.STAGE, False, [R]),
        # A declaration: CS for anything customers may notice (SEV1-SEV3), business SEV1-SEV2.
        ("SEV1", UpdateKind.DECLARED, False, [R, CS, B]),
        ("SEV2", UpdateKind.DECLARED, False, [R, CS, B]),
        ("SEV3", UpdateKind.DECLARED, False, [R, CS]),
        ("SEV4", UpdateKind.DECLARED, False, [R]),
        # Internal working notes stay with the responders, whatever the severity.
        ("SEV1", UpdateKind.STAGE, False, [R]),
        ("SEV1", UpdateKind.MANUAL, False, [R]),
        ("SEV1", UpdateKind.REMINDER, False, [R]),
        # Restored and reopened are stakeholder news.
        ("SEV1", UpdateKind.RESOLVED, False, [R, CS, B]),
        ("SEV3", UpdateKind.RESOLVED, False, [R, CS]),
        ("SEV2", UpdateKind.REOPENED, False, [R, CS, B]),
        # Whatever customers are told, CS and the business team are told too.
        ("SEV4", UpdateKind.MANUAL, True, [R, CS, B]),
        # The business team hears a SEV1-SEV2 postmortem; CS gets its public summary.
        ("SEV2", UpdateKind.POSTMORTEM, False, [R, B]),
        ("SEV3", UpdateKind.POSTMORTEM, False, [R]),
    ],
)
def test_the_default_routes(responder, code, kind, public, expected):
    assert routed(declare(responder, code), kind, public=public) == expected


def test_a_severity_change_reaches_the_audiences_of_the_severity_it_left(responder):
    # Escalated into the business team's range, and downgraded out of it.
    assert routed(declare(responder, "SEV1"), UpdateKind.SEVERITY, previous="SEV3") == [R, CS, B]
    assert routed(declare(responder, "SEV3"), UpdateKind.SEVERITY, previous="SEV2") == [R, CS, B]
    assert routed(declare(responder, "SEV4"), UpdateKind.SEVERITY, previous="SEV3") == [R, CS]


def test_the_lifecycle_tells_restored_and_reopened_from_other_moves(responder):
    incident = declare(responder, "SEV2")
    for stage in ("judge", "recover", "judge"):
        incident = incident_services.incident_move(incident=incident, to=stage, actor=responder)
    incident = incident_services.incident_update(
        incident=incident, actor=responder, data={"severity": severity("SEV3")}
    )

    updates = StatusUpdate.objects.filter(incident=incident).order_by("pk")
    assert [(u.kind, sorted(a.slug for a in u.audiences.all())) for u in updates] == [
        ("declared", [B, CS, R]),
        ("stage", [R]),
        ("resolved", [B, CS, R]),
        ("reopened", [B, CS, R]),
        ("severity", [B, CS, R]),  # SEV2 → SEV3: the business team hears it left its range
    ]
    # A skip over recover restores the service too.
    skipped = incident_services.incident_move(
        incident=declare(responder, "SEV1"), to="analyze", actor=responder
    )
    assert StatusUpdate.objects.filter(incident=skipped).latest("pk").kind == "resolved"


def _install_old_defaults():
    Route.objects.all().delete()
    old = [
        ("Every update reaches the responders", R, [], [], False),
        ("SEV1/SEV2 reach the business team", B, ["SEV1", "SEV2"], [], False),
        ("Every public update reaches CS", CS, [], [], True),
        ("Declared SEV1/SEV2 reach CS at once", CS, ["SEV1", "SEV2"], ["declared"], False),
    ]
    for name, slug, codes, kinds, only_public in old:
        route = Route.objects.create(
            name=name, audience=audience(slug), update_kinds=kinds, only_public_updates=only_public
        )
        route.severities.set([severity(code) for code in codes])


def _table() -> set[tuple]:
    return {
        (
            r.name,
            r.audience.slug,
            tuple(sorted(r.severities.values_list("code", flat=True))),
            tuple(r.update_kinds),
            r.only_public_updates,
        )
        for r in Route.objects.all()
    }


def _defaults() -> set[tuple]:
    return {
        (d.name, d.audience, d.severities, tuple(d.update_kinds), d.only_public_updates)
        for d in DEFAULT_ROUTES
    }


def test_a_fresh_install_has_exactly_the_default_routes():
    assert _table() == _defaults()


def test_the_migration_replaces_untouched_old_defaults_and_keeps_edited_ones():
    _install_old_defaults()
    migration.forward(apps, None)
    assert _table() == _defaults()

    _install_old_defaults()
    business = Route.objects.get(name="SEV1/SEV2 reach the business team")
    business.services.set([ServiceFactory(slug="payments")])  # someone tuned it
    custom = Route.objects.create(
        name="Stage moves to the CTO", audience=audience(B), update_kinds=["stage", "manual"]
    )
    migration.forward(apps, None)

    names = set(Route.objects.values_list("name", flat=True))
    assert "SEV1/SEV2 reach the business team" in names  # edited: kept as it is
    assert "Business: SEV1-SEV2 declared, severity changed, restored, reopened, postmortem" not in (
        names
    )
    assert "CS: SEV1-SEV3 declared, severity changed, restored, reopened" in names  # CS untouched
    custom.refresh_from_db()
    # It matched restoring, reopening and postmortems before they had kinds of their own.
    assert custom.update_kinds == ["stage", "manual", "resolved", "reopened", "postmortem"]


def test_load_demo_ensures_the_default_routes_without_touching_existing_ones(responder):
    Route.objects.filter(name__startswith="Business:").delete()
    kept = Route.objects.get(name="Every update reaches the responders")
    kept.active = False
    kept.save()

    created = services.routes_default_ensure()

    assert [r.name for r in created] == [
        "Business: SEV1-SEV2 declared, severity changed, restored, reopened, postmortem"
    ]
    assert _table() == _defaults()
    kept.refresh_from_db()
    assert kept.active is False
    assert services.routes_default_ensure() == []
