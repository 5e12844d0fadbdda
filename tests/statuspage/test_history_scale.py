"""The CS desk and the status page's regeneration scale with the open incidents, not
with the history: as many queries with 3 past public incidents as with 60, and a
publish after one update renders the same files."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident
from statuspage import snapshot
from statuspage.models import ComponentStatusChange, PublicIncident, PublicIncidentUpdate
from tests.factories.incidents import IncidentFactory
from tests.factories.statuspage import ComponentFactory

pytestmark = pytest.mark.django_db


def public_incident(component, *, open_: bool, days_ago: int) -> PublicIncident:
    start = timezone.now() - timedelta(days=days_ago, hours=2)
    incident = IncidentFactory(detected_at=start, started_at=start)
    if not open_:
        Incident.objects.filter(pk=incident.pk).update(
            closed_at=start + timedelta(hours=1), stage="retrospect", outcome="resolved"
        )
    public = PublicIncident.objects.create(
        incident=incident,
        name=f"Elevated errors {incident.pk}",
        status="investigating" if open_ else "resolved",
        impact="minor",
        started_at=start,
        resolved_at=None if open_ else start + timedelta(hours=1),
    )
    public.components.set([component])
    for step, status in enumerate(["investigating", "resolved"][: 1 if open_ else 2]):
        PublicIncidentUpdate.objects.create(
            public_incident=public,
            status=status,
            body=f"Update {step}.",
            display_at=start + timedelta(minutes=30 * step),
            created_at=start + timedelta(minutes=30 * step),
        )
    ComponentStatusChange.objects.create(
        component=component, status="partial_outage", changed_at=start, public_incident=public
    )
    return public


def history(component, past: int, *, start_day: int = 1) -> None:
    for number in range(past):
        public_incident(component, open_=False, days_ago=start_day + number % 80)


def count(call) -> int:
    call()
    with CaptureQueriesContext(connection) as queries:
        call()
    return len(queries.captured_queries)


@pytest.fixture
def component():
    component = ComponentFactory()
    ComponentStatusChange.objects.create(
        component=component, status="operational", changed_at=timezone.now() - timedelta(days=120)
    )
    for _ in range(3):
        public_incident(component, open_=True, days_ago=0)
    return component


def test_the_cs_desk_costs_the_same_with_a_long_history(client, viewer, component):
    client.force_login(viewer)

    def desk():
        assert client.get(reverse("cs-brief")).status_code == 200

    history(component, 3)
    few = count(desk)
    history(component, 57, start_day=4)
    many = count(desk)

    assert many == few, (few, many)


def test_regenerating_the_status_page_costs_the_same_with_a_long_history(component):
    def regenerate():
        snapshot.render_all(now=timezone.now())

    history(component, 3)
    few = count(regenerate)
    history(component, 57, start_day=4)
    many = count(regenerate)

    assert many == few, (few, many)


def test_a_publish_after_one_update_renders_the_same_files_with_a_long_history(component):
    open_one = PublicIncident.objects.filter(resolved_at__isnull=True).first()

    def publish_after_one_update() -> tuple[set, int]:
        snapshot.snapshot_publish()
        PublicIncidentUpdate.objects.create(
            public_incident=open_one,
            status="identified",
            body=f"Still on it ({timezone.now():%H:%M:%S.%f}).",
            display_at=timezone.now(),
            created_at=timezone.now(),
        )
        manifest = json.loads((snapshot.current_release() / snapshot.MANIFEST).read_text())
        previous = {rel: meta["fingerprint"] for rel, meta in manifest["files"].items()
                    if "fingerprint" in meta}  # fmt: skip
        rendered = snapshot.render_all(now=timezone.now(), previous=previous)
        return set(rendered.files), len(rendered.kept)

    history(component, 3)
    few, kept_few = publish_after_one_update()
    history(component, 57, start_day=4)
    many, kept_many = publish_after_one_update()

    assert many == few, few ^ many
    assert f"status/incidents/{open_one.public_id}/index.html" in many
    # The new past incidents' pages and the second history page are kept, not rendered.
    assert kept_many - kept_few == 57 + 1
