import pytest

from incidents.lifecycle import ORDER

pytestmark = pytest.mark.django_db


def test_a_script_walks_an_incident_through_all_seven_stages(as_user, responder):
    client = as_user(responder)
    created = client.post(
        "/api/v1/incidents/",
        {"title": "Checkout 500s", "summary": "Payments fail", "severity": "SEV2"},
        format="json",
    )
    assert created.status_code == 201, created.content
    incident_id = created.json()["id"]

    for stage in ORDER[1:]:
        moved = client.post(
            f"/api/v1/incidents/{incident_id}/stage/",
            {"stage": stage, "note": f"to {stage}"},
            format="json",
        )
        assert moved.status_code == 200, moved.content
        assert moved.json()["stage"] == stage

    timeline = client.get(f"/api/v1/incidents/{incident_id}/timeline/").json()["results"]
    moves = [event for event in timeline if event["kind"] == "stage_moved"]
    assert [event["data"]["to"] for event in moves] == ORDER[1:]
    assert all(event["actor"] == "rita" for event in timeline)

    history = client.get(f"/api/v1/incidents/{incident_id}/history/").json()
    assert history[0]["action"] == "created"
    assert {entry["user"] for entry in history} == {"rita"}
    stage_changes = [
        change for entry in history for change in entry["changes"] if change["field"] == "stage"
    ]
    assert [change["new"] for change in stage_changes] == [s.capitalize() for s in ORDER[1:]]
