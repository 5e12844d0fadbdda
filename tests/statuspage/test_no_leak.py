"""Nothing internal is ever public: unique markers in every internal field of an
incident, and not one of them in any page, JSON document, feed or badge."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import Change, Decision, TimelineEvent
from notifications import services as notification_services
from statuspage import maintenance as maintenance_services
from statuspage import snapshot
from statuspage.subscriber_models import Subscriber, SubscriberNotification
from tests.factories.incidents import ServiceFactory, SeverityFactory, UserFactory
from tests.statuspage.conftest import publish

pytestmark = pytest.mark.django_db

MARKERS = {
    "title": "LEAKTITLE7731",
    "summary": "LEAKSUMMARY7732",
    "features": "LEAKFEATURES7733",
    "note": "LEAKNOTE7734",
    "decision_option": "LEAKOPTION7735",
    "decision_chosen": "LEAKCHOSEN7736",
    "decision_rationale": "LEAKRATIONALE7737",
    "decision_information": "LEAKINFO7738",
    "username": "leakuser7739",
    "first_name": "Leakfirst7740",
    "last_name": "Leaklast7741",
    "severity_name": "LEAKSEVNAME7742",
    "severity_definition": "LEAKSEVDEF7743",
    "service_name": "LEAKSERVICE7744",
    "service_slug": "leakservice7745",
    "change_title": "LEAKCHANGE7746",
    "deployed_by": "LEAKDEPLOYER7747",
    "internal_update": "LEAKINTERNALUPDATE7748",
    "severity_code": "LKSEV49",
}


def test_no_internal_field_reaches_any_public_file(components):
    actor = UserFactory(
        username=MARKERS["username"],
        first_name=MARKERS["first_name"],
        last_name=MARKERS["last_name"],
        role="responder",
    )
    severity = SeverityFactory(
        code=MARKERS["severity_code"],
        name=MARKERS["severity_name"],
        definition=MARKERS["severity_definition"],
        required_response=MARKERS["severity_definition"],
    )
    service = ServiceFactory(name=MARKERS["service_name"], slug=MARKERS["service_slug"])
    components["api"].services.add(ServiceFactory(slug="api-backend"))
    Subscriber.objects.create(kind="email", email="sub@example.test", confirmed_at=timezone.now())
    Subscriber.objects.create(
        kind="webhook",
        endpoint="https://hooks.example.test/x",
        secret="whsec_dGVzdA==",
        confirmed_at=timezone.now(),
    )
    incident = incident_services.incident_declare(
        title=MARKERS["title"],
        summary=MARKERS["summary"],
        severity=severity,
        services=[service],
        actor=actor,
    )
    incident.affected_features = MARKERS["features"]
    incident.preceding_change = Change.objects.create(
        title=MARKERS["change_title"],
        deployed_by=MARKERS["deployed_by"],
        deployed_at=incident.started_at,
    )
    incident.save()
    TimelineEvent.objects.create(
        incident=incident, kind="note", occurred_at=incident.detected_at, text=MARKERS["note"]
    )
    Decision.objects.create(
        incident=incident,
        options=[MARKERS["decision_option"], "other"],
        chosen=MARKERS["decision_chosen"],
        rationale=MARKERS["decision_rationale"],
        information=MARKERS["decision_information"],
        decided_by=actor,
        decided_at=incident.detected_at,
    )
    notification_services.update_post(
        incident=incident,
        message=MARKERS["internal_update"],
        actor=actor,
        audiences=["responders", "cs"],
    )
    publish(
        incident,
        actor,
        "Some requests to the API fail; we are on it.",
        public_title="API errors",
        components={"api": "partial_outage"},
    )
    publish(incident, actor, "Fixed.", public_status="resolved")
    maintenance_services.maintenance_schedule(
        name="Network upgrade",
        scheduled_for=incident.detected_at.replace(year=incident.detected_at.year + 1),
        # An hour long whatever the time of day (ending at 23:00 failed from 23:00 UTC).
        scheduled_until=incident.detected_at.replace(year=incident.detected_at.year + 1)
        + timedelta(hours=1),
        components=[components["api"]],
    )
    release = snapshot.snapshot_publish()

    files = {
        path.relative_to(release).as_posix(): path.read_bytes()
        for path in release.rglob("*")
        if path.is_file()
    }
    assert {"status/index.html", "api/v2/summary.json", "status/feed.rss", "status/feed.atom",
            "status/badge.svg", "status/history/index.html"} <= set(files)  # fmt: skip
    assert any(p.startswith("status/incidents/") for p in files)
    client = Client()
    served = {}
    for rel in files:
        if rel == "manifest.json":
            continue
        url = "/" + rel.removesuffix("index.html")
        response = client.get(url)
        assert response.status_code == 200, url
        served[url] = response.content
    assert "/api/v2/incidents.json" in served and "/status/feed.rss" in served
    assert b"API errors" in served["/api/v2/incidents.json"]
    messages = {
        f"subscriber message {row.event} to {row.subscriber_id}": (
            row.subject + row.body + json.dumps(row.payload)
        ).encode()
        for row in SubscriberNotification.objects.all()
    }
    assert len(messages) >= 4  # two incident updates and the maintenance, to two subscribers
    for name, marker in MARKERS.items():
        for where, body in {**files, **served, **messages}.items():
            assert marker.lower().encode() not in body.lower(), f"{name} leaked into {where}"
