"""The API of issue 11: close with an outcome, correct a stage time, edit and strike
notes, decisions picked by index and superseded; all described in the schema."""

from datetime import timedelta

import pytest
import yaml
from django.utils import timezone

from incidents import services
from incidents.models import TimelineEvent
from tests.factories.incidents import severity

pytestmark = pytest.mark.django_db
BASE = "/api/v1/incidents/"


@pytest.fixture
def incident(responder):
    return services.incident_declare(
        title="Checkout 500s",
        severity=severity("SEV2"),
        actor=responder,
        detected_at=timezone.now() - timedelta(hours=1),
    )


def test_the_normal_close_keeps_its_behaviour(as_user, responder, incident):
    response = as_user(responder).post(f"{BASE}{incident.pk}/close/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "cannot_close"
    assert "An incident closes from retrospect; move it there first." in response.json()["blockers"]


def test_a_false_alarm_closes_from_detect(as_user, responder, incident):
    response = as_user(responder).post(
        f"{BASE}{incident.pk}/close/",
        {"outcome": "false_alarm", "note": "The synthetic check flapped."},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["is_open"], body["stage"], body["outcome"]) == (False, "detect", "false_alarm")
    assert body["outcome_reason"] == "The synthetic check flapped."
    assert body["durations"]["not_measured"] == "closed as false alarm"
    assert body["durations"]["time_to_detect_seconds"] is None


def test_an_outcome_without_a_reason_names_the_field(as_user, responder, incident):
    response = as_user(responder).post(
        f"{BASE}{incident.pk}/close/", {"outcome": "declined"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"note"}
    response = as_user(responder).post(
        f"{BASE}{incident.pk}/close/", {"outcome": "closed-ish", "note": "x"}, format="json"
    )
    assert response.status_code == 400 and set(response.json()["errors"]) == {"outcome"}


def test_a_duplicate_points_at_the_other_incident_both_ways(as_user, responder, incident):
    other = services.incident_declare(title="Payments", severity=severity("SEV2"), actor=responder)
    client = as_user(responder)
    response = client.post(
        f"{BASE}{incident.pk}/close/",
        {"outcome": "duplicate", "duplicate_of": other.pk, "note": "Same outage."},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["duplicate_of"] == other.pk
    assert client.get(f"{BASE}{other.pk}/").json()["duplicates"] == [incident.pk]
    missing = client.post(
        f"{BASE}{other.pk}/close/",
        {"outcome": "duplicate", "duplicate_of": 10**9, "note": "x"},
        format="json",
    )
    assert missing.status_code == 400 and set(missing.json()["errors"]) == {"duplicate_of"}


def test_a_skipped_stage_time_is_corrected(as_user, responder, incident):
    services.incident_move(incident=incident, to="analyze", actor=responder)
    at = incident.detected_at + timedelta(minutes=20)
    client = as_user(responder)
    response = client.post(
        f"{BASE}{incident.pk}/stage-times/",
        {"stage": "recover", "at": at.isoformat(), "reason": "Rollback done at :20"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["durations"]["time_to_recover_seconds"] == 20 * 60
    refused = client.post(
        f"{BASE}{incident.pk}/stage-times/",
        {"stage": "share", "at": at.isoformat(), "reason": "x"},
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == "illegal_correction"
    assert set(refused.json()["errors"]) == {"stage"}


def test_a_note_is_edited_and_struck_through(as_user, responder, viewer, incident):
    note = services.note_add(incident=incident, text="Web-3 restarted", actor=responder)
    client = as_user(responder)
    url = f"{BASE}{incident.pk}/timeline/{note.pk}/"
    assert as_user(viewer).patch(url, {"text": "x"}, format="json").status_code == 403
    response = client.patch(url, {"text": "Web-2 restarted"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["text"] == "Web-2 restarted"
    assert response.json()["edited_by"] == "rita"
    response = client.post(f"{url}strike/", {"reason": "Nothing restarted"}, format="json")
    assert response.status_code == 200
    assert (response.json()["struck_by"], response.json()["struck_reason"]) == (
        "rita",
        "Nothing restarted",
    )
    history = client.get(f"{BASE}{incident.pk}/history/").json()
    note_changes = [
        change
        for entry in history
        if entry["object_type"] == "note"
        for change in entry["changes"]
        if change["field"] == "text"
    ]
    assert note_changes == [
        {"field": "text", "label": "text", "old": "Web-3 restarted", "new": "Web-2 restarted"}
    ]
    declared = incident.events.get(kind=TimelineEvent.Kind.DECLARED)
    refused = client.patch(
        f"{BASE}{incident.pk}/timeline/{declared.pk}/", {"text": "x"}, format="json"
    )
    assert refused.status_code == 400
    other = services.incident_declare(title="Other", severity=severity("SEV3"), actor=responder)
    elsewhere = client.patch(f"{BASE}{other.pk}/timeline/{note.pk}/", {"text": "x"}, format="json")
    assert elsewhere.status_code == 404


def test_decisions_accept_an_index_and_supersede(as_user, responder, incident):
    client = as_user(responder)
    url = f"{BASE}{incident.pk}/decisions/"
    first = client.post(
        url,
        {"options": ["Roll back", "Fix forward"], "chosen_index": 0, "rationale": "Deploy"},
        format="json",
    )
    assert first.status_code == 201, first.json()
    assert (first.json()["chosen"], first.json()["chosen_index"]) == ("Roll back", 0)
    second = client.post(
        url,
        {
            "options": ["Roll back", "Fix forward"],
            "chosen": "fix forward",
            "rationale": "Rollback failed",
            "supersedes": first.json()["id"],
        },
        format="json",
    )
    assert second.status_code == 201, second.json()
    assert second.json()["supersedes"] == first.json()["id"]
    listed = {row["id"]: row for row in client.get(url).json()}
    assert listed[first.json()["id"]]["superseded_by"] == second.json()["id"]
    neither = client.post(url, {"options": ["A"], "rationale": "r"}, format="json")
    assert neither.status_code == 400 and set(neither.json()["errors"]) == {"chosen"}


def test_the_schema_describes_outcomes_corrections_and_the_index(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    components = schema["components"]["schemas"]

    def body(path):
        ref = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        return components[ref["schema"]["$ref"].rsplit("/", 1)[1]]

    close = body("/api/v1/incidents/{id}/close/")["properties"]
    assert set(close) >= {"outcome", "note", "duplicate_of", "public_message"}
    outcome = close["outcome"]
    refs = [outcome.get("$ref")] + [part.get("$ref") for part in outcome.get("allOf", [])]
    enums = [components[ref.rsplit("/", 1)[1]] for ref in refs if ref]
    assert {"resolved", "false_alarm", "duplicate", "declined"} <= set(
        (enums[0] if enums else outcome)["enum"]
    )
    assert "from any stage" in outcome["description"]
    decision = body("/api/v1/incidents/{id}/decisions/")["properties"]
    assert "counted from 0" in decision["chosen_index"]["description"]
    assert "/api/v1/incidents/{id}/stage-times/" in schema["paths"]
    assert "patch" in schema["paths"]["/api/v1/incidents/{id}/timeline/{event_id}/"]
    durations = next(
        component["properties"]
        for component in components.values()
        if "time_to_decide_seconds" in component.get("properties", {})
    )
    assert "first decision" in durations["time_to_decide_seconds"]["description"]
