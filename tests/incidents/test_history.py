"""The audit trail: who changed which field, when, old → new (selector and API)."""

import pytest

from incidents import history, services
from tests.factories.incidents import ServiceFactory, UserFactory, severity

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(responder):
    return services.incident_declare(
        title="Checkout 500s", severity=severity("SEV3"), actor=responder
    )


def _changes(entries, field):
    return [(c.old, c.new, e.user) for e in entries for c in e.changes if c.field == field]


def test_history_starts_with_created_and_names_the_actor(incident, responder):
    entries = history.incident_history(incident=incident)
    assert entries[0].action == "created"
    assert entries[0].user == "rita"
    assert entries[0].reason == "declared"
    assert entries[0].object_type == "incident" and entries[0].object_id == incident.pk


def test_history_shows_old_and_new_values_with_the_user(incident, responder):
    olga = UserFactory(username="olga", role="responder")
    services.incident_update(
        incident=incident, actor=olga, data={"title": "Checkout 502s", "severity": severity("SEV1")}
    )
    services.incident_move(incident=incident, to="judge", actor=responder)
    entries = history.incident_history(incident=incident)
    assert _changes(entries, "title") == [("Checkout 500s", "Checkout 502s", "olga")]
    assert _changes(entries, "severity") == [(str(severity("SEV3")), str(severity("SEV1")), "olga")]
    assert _changes(entries, "stage") == [("Detect", "Judge", "rita")]
    judged = _changes(entries, "judged_by")
    assert judged == [("—", "rita", "rita")]
    assert all(e.user for e in entries)
    assert [e.at for e in entries] == sorted(e.at for e in entries)


def test_history_shows_services_and_responders_changes_by_name(incident, responder):
    api = ServiceFactory(slug="api", name="API")
    services.incident_update(incident=incident, actor=responder, data={"services": [api]})
    cal = UserFactory(username="cal")
    services.incident_assign_role(incident=incident, role="responder", user=cal, actor=responder)
    entries = history.incident_history(incident=incident)
    assert _changes(entries, "services") == [("—", "API", "rita")]
    assert _changes(entries, "responders") == [("—", "cal", "rita")]
    assert all(e.reason for e in entries)


def test_history_includes_decisions(incident, responder):
    services.decision_record(
        incident=incident, options=["a", "b"], chosen="a", rationale="r", actor=responder
    )
    entries = history.incident_history(incident=incident)
    (decision,) = [e for e in entries if e.object_type == "decision"]
    assert (decision.action, decision.user, decision.reason) == (
        "created",
        "rita",
        "decision recorded",
    )


def test_history_api_names_the_acting_user_and_old_new(as_user, incident, responder, viewer):
    services.incident_update(incident=incident, actor=responder, data={"summary": "Payments fail"})
    response = as_user(viewer).get(f"/api/v1/incidents/{incident.pk}/history/")
    assert response.status_code == 200
    body = response.json()
    assert body[0]["action"] == "created" and body[0]["user"] == "rita"
    (summary,) = [c for e in body for c in e["changes"] if c["field"] == "summary"]
    assert summary == {"field": "summary", "label": "summary", "old": "—", "new": "Payments fail"}
    (entry,) = [e for e in body if any(c["field"] == "summary" for c in e["changes"])]
    assert entry["user"] == "rita" and entry["reason"] == "edited summary"
    assert set(entry) == {"at", "user", "object_type", "object_id", "action", "reason", "changes"}


def test_history_api_is_hidden_for_private_incidents(as_user, responder, viewer):
    private = services.incident_declare(
        title="Security", severity=severity("SEV1"), actor=responder, private=True
    )
    assert as_user(viewer).get(f"/api/v1/incidents/{private.pk}/history/").status_code == 404
    assert as_user(responder).get(f"/api/v1/incidents/{private.pk}/history/").status_code == 200


def test_history_page_rows_are_escaped_and_list_each_change(client, incident, responder):
    """The page's rows (incidents.history_html): one per entry, each change a list
    item naming its field, every value escaped."""
    services.incident_update(
        incident=incident, actor=responder, data={"title": "<img src=x onerror=alert(1)>"}
    )
    client.force_login(responder)
    page = client.get(f"/incidents/{incident.pk}/history/").content.decode()
    assert "<img src=x" not in page
    assert (
        '<li data-field="title"><span class="change-field">Title</span>: <del>Checkout 500s'
        "</del> → <ins>&lt;img src=x onerror=alert(1)&gt;</ins></li>"
    ) in page
    assert '<td data-label="Who" class="history-user">rita</td>' in page
    assert '<td data-label="What">Incident created<br><span class="muted small">declared' in page
    assert page.count('<td data-label="When"><time datetime="') == len(
        history.incident_history(incident=incident)
    )
