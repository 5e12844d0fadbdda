"""The Statuspage-compatible JSON (served from the snapshot) against the documented fields."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from statuspage import maintenance as maintenance_services
from statuspage import services, snapshot
from tests.statuspage.conftest import publish

pytestmark = pytest.mark.django_db

PAGE_FIELDS = {"id", "name", "url", "time_zone", "updated_at"}
COMPONENT_FIELDS = {
    "id", "name", "status", "created_at", "updated_at", "position", "description",
    "showcase", "start_date", "group_id", "page_id", "group", "only_show_if_degraded",
}  # fmt: skip
INCIDENT_FIELDS = {
    "id", "name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at",
    "impact", "shortlink", "started_at", "page_id", "incident_updates", "components",
}  # fmt: skip
UPDATE_FIELDS = {
    "id", "status", "body", "incident_id", "created_at", "updated_at", "display_at",
    "affected_components", "deliver_notifications", "custom_tweet", "tweet_id",
}  # fmt: skip
COMPONENT_STATUSES = {
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance",
}  # fmt: skip
ENDPOINTS = [
    "summary.json",
    "status.json",
    "components.json",
    "incidents.json",
    "incidents/unresolved.json",
    "scheduled-maintenances.json",
    "scheduled-maintenances/upcoming.json",
    "scheduled-maintenances/active.json",
]


@pytest.fixture
def page(incident, responder, components):
    publish(incident, responder, public_title="API errors", components={"api": "major_outage"})
    maintenance_services.maintenance_schedule(
        name="Database upgrade",
        scheduled_for=incident.detected_at + __import__("datetime").timedelta(days=1),
        scheduled_until=incident.detected_at + __import__("datetime").timedelta(days=1, hours=1),
        components=[components["dashboard"]],
    )
    snapshot.snapshot_publish()


def get(path):
    response = Client().get(f"/api/v2/{path}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()


@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_endpoint_has_the_page(page, path):
    body = get(path)
    assert set(body["page"]) == PAGE_FIELDS
    assert body["page"]["url"].endswith("/status/")


@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_endpoint_says_when_it_was_generated(db, components, path):
    """``meta.generated_at``: the snapshot's render time, in Statuspage's format,
    the same instant as the response's X-Snapshot-Generated-At."""
    now = datetime(2026, 12, 1, 13, 4, 5, 678901, tzinfo=UTC)
    snapshot.snapshot_publish(now=now)
    response = Client().get(f"/api/v2/{path}")
    body = response.json()
    assert body["meta"] == {"generated_at": "2026-12-01T13:04:05.678Z"}
    assert datetime.fromisoformat(response["X-Snapshot-Generated-At"]) == now
    assert body["page"]["updated_at"] != body["meta"]["generated_at"]  # not the same thing


def test_summary_shape_and_values(page, components):
    body = get("summary.json")
    assert set(body) == {
        "meta", "page", "components", "incidents", "scheduled_maintenances", "status",
    }  # fmt: skip
    assert body["status"] == {"indicator": "critical", "description": "Major Service Outage"}
    for row in body["components"]:
        assert set(row) >= COMPONENT_FIELDS
        assert row["status"] in COMPONENT_STATUSES
    api = next(c for c in body["components"] if c["name"] == "API")
    assert api["status"] == "major_outage" and api["group"] is False
    group = next(c for c in body["components"] if c["group"])
    assert group["name"] == "Platform" and group["status"] == "major_outage"
    assert api["group_id"] == group["id"] and api["id"] in group["components"]
    (incident,) = body["incidents"]
    assert set(incident) == INCIDENT_FIELDS
    assert incident["impact"] == "critical" and incident["status"] == "investigating"
    assert incident["shortlink"].endswith(f"/status/incidents/{incident['id']}/")
    (update,) = incident["incident_updates"]
    assert set(update) == UPDATE_FIELDS
    assert update["incident_id"] == incident["id"]
    assert update["affected_components"] == [
        {
            "code": api["id"],
            "name": "API",
            "old_status": "operational",
            "new_status": "major_outage",
        }
    ]
    (maintenance,) = body["scheduled_maintenances"]
    assert INCIDENT_FIELDS | {"scheduled_for", "scheduled_until"} <= set(maintenance)
    assert maintenance["status"] == "scheduled" and maintenance["impact"] == "maintenance"


def test_status_indicator_values(db, components):
    snapshot.snapshot_publish()
    assert get("status.json")["status"] == {
        "indicator": "none",
        "description": "All Systems Operational",
    }
    services.component_set_status(component=components["email"], status="degraded_performance")
    snapshot.snapshot_publish()
    assert get("status.json")["status"]["indicator"] == "minor"
    services.component_set_status(component=components["email"], status="under_maintenance")
    snapshot.snapshot_publish()
    assert get("status.json")["status"]["indicator"] == "maintenance"


def test_unresolved_and_maintenance_lists(page, incident, responder):
    assert len(get("incidents/unresolved.json")["incidents"]) == 1
    assert len(get("scheduled-maintenances/upcoming.json")["scheduled_maintenances"]) == 1
    assert get("scheduled-maintenances/active.json")["scheduled_maintenances"] == []
    publish(incident, responder, "Fixed.", public_status="resolved")
    snapshot.snapshot_publish()
    assert get("incidents/unresolved.json")["incidents"] == []
    (resolved,) = get("incidents.json")["incidents"]
    assert resolved["status"] == "resolved" and resolved["resolved_at"]
    assert get("components.json")["components"][0]["status"] == "operational"


def test_snapshot_render_makes_a_fixed_number_of_queries(
    page, components, django_assert_max_num_queries
):
    with django_assert_max_num_queries(40):
        snapshot.snapshot_publish()
