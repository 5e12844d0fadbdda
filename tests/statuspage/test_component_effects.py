"""Component status that stays true with several incidents: each public incident
records its own effect; a component shows the worst effect of its unresolved
incidents and in-progress maintenances (or an override, shown as such). Checked in
every order of resolution: the model, the Statuspage JSON and the snapshot."""

import itertools
import json

import pytest
from django.test import Client
from django.utils import timezone

from incidents import services as incident_services
from notifications import outbox
from notifications import services as notification_services
from notifications.models import Delivery, Destination
from statuspage import maintenance as maintenance_services
from statuspage import services, snapshot
from statuspage.models import (
    Component,
    ComponentStatusChange,
    PublicIncident,
    PublicIncidentComponent,
)
from tests.factories.incidents import severity
from tests.factories.statuspage import ComponentFactory

pytestmark = pytest.mark.django_db

# The order of badness, written out here so the test does not trust the code's table.
RANK = [
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
]


def worst(statuses) -> str:
    return max(statuses, key=RANK.index, default="operational")


@pytest.fixture
def parts(db):
    return {
        slug: ComponentFactory(slug=slug, name=slug.title(), position=n)
        for n, slug in enumerate(["checkout", "api", "search", "email"])
    }


def run_statuspage(update):
    delivery = update.deliveries.get(destination__kind=Destination.Kind.STATUSPAGE)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert outbox.delivery_attempt(delivery.pk).status == Delivery.Status.SENT


def open_incident(actor, title: str, effects: dict):
    incident = incident_services.incident_declare(
        title=f"{title} (internal)", severity=severity("SEV2"), actor=actor
    )
    update = notification_services.update_post(
        incident=incident,
        message=f"{title}: investigating.",
        actor=actor,
        audiences=["public"],
        public_status="investigating",
        public_title=title,
        components=effects,
    )
    run_statuspage(update)
    return incident


def resolve(incident, actor, components=None):
    update = notification_services.update_post(
        incident=incident,
        message="Resolved.",
        actor=actor,
        audiences=["public"],
        public_status="resolved",
        components=components,
    )
    run_statuspage(update)


def statuses() -> dict[str, str]:
    return dict(Component.objects.values_list("slug", "status"))


def published(path: str) -> dict:
    """Publish a snapshot and read it back the way the public does."""
    snapshot.snapshot_publish()
    response = Client().get(f"/api/v2/{path}")
    assert response.status_code == 200
    return json.loads(response.content)


def assert_everywhere(expected: dict[str, str], open_names: set[str]):
    assert statuses() == expected
    by_name = {slug.title(): status for slug, status in expected.items()}
    components_json = published("components.json")["components"]
    assert {c["name"]: c["status"] for c in components_json} == by_name
    summary = json.loads(Client().get("/api/v2/summary.json").content)
    assert {c["name"]: c["status"] for c in summary["components"]} == by_name
    assert {i["name"] for i in summary["incidents"]} == open_names
    # The files on disk are what the snapshot serves, byte for byte.
    on_disk = json.loads((snapshot.current_release() / "api/v2/components.json").read_text())
    assert {c["name"]: c["status"] for c in on_disk["components"]} == by_name


def expected_from(active: dict[str, dict], maintenance: dict | None, slugs) -> dict[str, str]:
    out = {}
    for slug in slugs:
        effects = [e[slug] for e in active.values() if slug in e]
        if maintenance and slug in maintenance["components"]:
            effects.append("under_maintenance")
        out[slug] = worst(effects)
    return out


def preview(incident):
    """What the Communications tab / API preview says resolving will do."""
    return {
        row["slug"]: row["after"]
        for row in notification_services.update_preview(
            incident=incident,
            message="Resolved.",
            actor=None,
            audiences=["public"],
            public_status="resolved",
        )["components"]
    }


TWO = {
    "Payments down": {"checkout": "major_outage", "api": "degraded_performance"},
    "Slow checkout": {"checkout": "partial_outage"},
}


@pytest.mark.parametrize("order", list(itertools.permutations(TWO)), ids=" then ".join)
def test_two_overlapping_incidents_in_every_order(responder, parts, order):
    incidents = {name: open_incident(responder, name, effects) for name, effects in TWO.items()}
    active = dict(TWO)
    assert_everywhere(expected_from(active, None, parts), set(active))

    for name in order:
        remaining = {k: v for k, v in active.items() if k != name}
        expected = expected_from(remaining, None, parts)
        will = preview(incidents[name])
        assert will == {slug: expected[slug] for slug in TWO[name]}
        resolve(incidents[name], responder)
        active = remaining
        assert_everywhere(expected, set(active))
    assert statuses() == dict.fromkeys(parts, "operational")


THREE = {
    "Payments down": {"checkout": "major_outage"},
    "Search errors": {"checkout": "degraded_performance", "api": "partial_outage"},
    "API outage": {"api": "major_outage", "search": "degraded_performance"},
}
MAINTENANCE = "Database upgrade"


@pytest.mark.parametrize(
    "order", list(itertools.permutations([*THREE, MAINTENANCE])), ids=" then ".join
)
def test_three_incidents_and_a_maintenance_in_every_order(responder, parts, order):
    maintenance = maintenance_services.maintenance_schedule(
        name=MAINTENANCE,
        scheduled_for=timezone.now() - timezone.timedelta(minutes=5),
        scheduled_until=timezone.now() + timezone.timedelta(hours=1),
        components=[parts["checkout"], parts["search"], parts["email"]],
    )
    maintenance_services.maintenance_move(maintenance=maintenance, to="in_progress")
    incidents = {name: open_incident(responder, name, effects) for name, effects in THREE.items()}
    active = dict(THREE)
    window = {"components": {"checkout", "search", "email"}}
    assert_everywhere(expected_from(active, window, parts), set(active))

    for name in order:
        if name == MAINTENANCE:
            window = None
            maintenance_services.maintenance_move(maintenance=maintenance, to="completed")
        else:
            remaining = {k: v for k, v in active.items() if k != name}
            expected = expected_from(remaining, window, parts)
            assert preview(incidents[name]) == {slug: expected[slug] for slug in THREE[name]}
            resolve(incidents[name], responder)
            active = remaining
        assert_everywhere(expected_from(active, window, parts), set(active))
    assert statuses() == dict.fromkeys(parts, "operational")
    # Every change is in the uptime log with what caused it.
    assert ComponentStatusChange.objects.filter(maintenance=maintenance).exists()
    assert ComponentStatusChange.objects.filter(public_incident__isnull=False).exists()


def test_each_incident_keeps_its_own_effect(responder, parts):
    first = open_incident(responder, "Payments down", {"checkout": "major_outage"})
    open_incident(responder, "Slow checkout", {"checkout": "degraded_performance"})
    update = notification_services.update_post(
        incident=first,
        message="Improving.",
        actor=responder,
        audiences=["public"],
        public_status="monitoring",
        components={"checkout": "operational"},
    )
    run_statuspage(update)

    effects = dict(PublicIncidentComponent.objects.values_list("public_incident__name", "status"))
    assert effects == {"Payments down": "operational", "Slow checkout": "degraded_performance"}
    assert statuses()["checkout"] == "degraded_performance"


def test_the_responder_chooses_a_different_status_when_resolving_and_it_shows_as_set_by_hand(
    responder, parts
):
    first = open_incident(responder, "Payments down", {"checkout": "major_outage"})
    second = open_incident(responder, "Slow checkout", {"checkout": "degraded_performance"})

    resolve(first, responder)
    assert statuses()["checkout"] == "degraded_performance"
    resolve(second, responder, components={"checkout": "partial_outage"})

    checkout = Component.objects.get(slug="checkout")
    assert checkout.status == "partial_outage"
    assert checkout.override_status == "partial_outage"
    assert "Slow checkout" in checkout.override_reason
    assert checkout.history.filter(history_change_reason="override partial_outage").exists()

    services.component_override_set(component=checkout, status="", actor=responder)
    checkout.refresh_from_db()
    assert checkout.status == "operational" and checkout.override_status == ""


def test_the_preview_api_shows_each_component_and_why(as_user, responder, parts):
    first = open_incident(responder, "Payments down", {"checkout": "major_outage"})
    open_incident(responder, "Slow checkout", {"checkout": "degraded_performance"})

    response = as_user(responder).post(
        f"/api/v1/incidents/{first.pk}/updates/preview/",
        {"message": "Fixed.", "audiences": ["public"], "public_status": "resolved"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    (row,) = response.json()["components"]
    assert row["slug"] == "checkout" and row["now"] == "major_outage"
    assert row["after"] == "degraded_performance"
    assert row["because"] == ["degraded performance by incident “Slow checkout”"]
    assert PublicIncident.objects.filter(resolved_at__isnull=False).count() == 0  # a preview


def test_data_migration_records_effects_from_todays_state(responder):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("statuspage.migrations.0005_component_effects")
    checkout = ComponentFactory(slug="checkout", status="partial_outage")
    incident = incident_services.incident_declare(
        title="Old incident", severity=severity("SEV3"), actor=responder
    )
    public = PublicIncident.objects.create(incident=incident, name="Old", started_at=timezone.now())
    public.components.add(checkout)
    public.updates.create(
        body="x",
        status="investigating",
        affected_components=[{"code": checkout.public_id, "new_status": "major_outage"}],
        display_at=timezone.now(),
        created_at=timezone.now(),
    )
    migration.effects_from_todays_state(apps, None)
    assert PublicIncidentComponent.objects.get().status == "major_outage"


def test_a_reopened_incident_starts_from_what_it_names(responder, parts):
    incident = open_incident(responder, "Payments down", {"checkout": "major_outage"})
    resolve(incident, responder)
    update = notification_services.update_post(
        incident=incident,
        message="It is back.",
        actor=responder,
        audiences=["public"],
        public_status="investigating",
        public_resolved_action="reopen",
        components={"api": "degraded_performance"},
    )
    run_statuspage(update)

    assert statuses()["checkout"] == "operational"  # not revived from before the resolve
    assert statuses()["api"] == "degraded_performance"
    assert PublicIncident.objects.get().resolved_at is None
