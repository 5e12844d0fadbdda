"""POST /api/v1/integrations/alertmanager/: Alertmanager's webhook drives incidents."""

import copy

import pytest

from incidents.intake.models import AlertGroup, AlertSource
from incidents.models import Incident, TimelineEvent
from tests.factories.incidents import ServiceFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/integrations/alertmanager/"


def alert(fingerprint: str, status: str = "firing", **labels) -> dict:
    return {
        "status": status,
        "labels": {"alertname": "HighErrorRate", "severity": "critical", **labels},
        "annotations": {"summary": "5xx above 5%", "description": "checkout 5xx at 12%"},
        "startsAt": "2026-11-23T01:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.local/graph?g0.expr=...",
        "fingerprint": fingerprint,
    }


def notification(*alerts: dict, status: str = "firing", group_key: str = '{}:{alertname="X"}'):
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "keel",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {
            "alertname": "HighErrorRate",
            "severity": "critical",
            "service": "checkout-api",
        },
        "commonAnnotations": {"summary": "5xx above 5%", "description": "checkout 5xx at 12%"},
        "externalURL": "http://alertmanager.local",
        "alerts": list(alerts),
    }


@pytest.fixture
def alertmanager(as_user, responder):
    ServiceFactory(slug="checkout-api")
    return as_user(responder)


def test_a_firing_group_declares_one_incident_and_repeats_change_nothing(alertmanager):
    body = notification(alert("a1", service="checkout-api"))

    first = alertmanager.post(URL, body, format="json")
    again = alertmanager.post(URL, body, format="json")  # repeat_interval / a retry

    assert first.status_code == 200 and first.json()["action"] == "declared"
    assert again.json()["action"] == "unchanged"
    assert again.json()["incident"] == first.json()["incident"]
    incident = Incident.objects.get()
    assert incident.title == "HighErrorRate: 5xx above 5%"
    assert incident.severity.code == "SEV2"  # critical → SEV2 (KEEL_ALERT_SEVERITY_MAP)
    assert incident.detection_source == "monitoring"
    assert incident.started_at.isoformat().startswith("2026-11-23T01:00")
    assert [s.slug for s in incident.services.all()] == ["checkout-api"]
    sources = set(incident.events.values_list("source", flat=True))
    assert sources == {TimelineEvent.Source.ALERT}
    assert incident.events.filter(kind="note").count() == 1


def test_new_alerts_are_noted_and_resolution_moves_to_recover_then_regression_reopens(
    alertmanager,
):
    alertmanager.post(URL, notification(alert("a1")), format="json")
    AlertSource.objects.filter(is_default=True).update(resolve_hold_seconds=0)  # no flap hold
    more = alertmanager.post(URL, notification(alert("a1"), alert("a2", pod="p2")), format="json")
    assert more.json()["action"] == "noted"
    note = Incident.objects.get().events.filter(kind="note").last()
    assert "pod=p2" in note.text and "a1" not in note.text

    resolved = alertmanager.post(
        URL,
        notification(
            alert("a1", status="resolved"), alert("a2", status="resolved"), status="resolved"
        ),
        format="json",
    )
    assert resolved.json()["action"] == "recovered"
    incident = Incident.objects.get()
    assert incident.stage == "recover"
    skipped = incident.events.get(kind=TimelineEvent.Kind.STAGE_SKIPPED)
    assert skipped.data["skipped"] == ["propagate", "judge"]

    regressed = alertmanager.post(URL, notification(alert("a1")), format="json")
    assert regressed.json()["action"] == "reopened"
    incident.refresh_from_db()
    assert incident.stage == "judge" and incident.reopened_count == 1


def test_a_resolved_group_without_an_open_incident_is_ignored(alertmanager):
    response = alertmanager.post(
        URL, notification(alert("a1", status="resolved"), status="resolved"), format="json"
    )
    assert response.json()["action"] == "ignored" and response.json()["incident"] is None
    assert not Incident.objects.exists() and not AlertGroup.objects.exists()


def test_severity_label_override_and_unknown_severity_default(alertmanager):
    body = notification(alert("a1"))
    body["commonLabels"]["keel_severity"] = "sev1"
    assert alertmanager.post(URL, body, format="json").status_code == 200
    other = notification(alert("b1"), group_key="other")
    other["commonLabels"]["severity"] = "mystery"
    other["commonLabels"]["service"] = "search"  # another service: not correlated
    alertmanager.post(URL, other, format="json")
    assert sorted(Incident.objects.values_list("severity__code", flat=True)) == ["SEV1", "SEV3"]


def test_viewers_and_anonymous_cannot_open_incidents(as_user, viewer, api_client):
    assert as_user(viewer).post(URL, notification(alert("a1")), format="json").status_code == 403
    assert api_client.post(URL, notification(alert("a1")), format="json").status_code == 401
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.pop("groupKey"),
        lambda b: b.update(status="burning"),
        lambda b: b["commonLabels"].update({f"k{i}": "v" for i in range(101)}),
        lambda b: b["alerts"][0]["labels"].update(big="x" * 2001),
        lambda b: b.update(groupKey="g" * 1001),
        lambda b: b["alerts"].append({"status": "exploded"}),
        lambda b: b["alerts"].append("not an alert"),
    ],
)
def test_what_alertmanager_cannot_fix_is_recorded_and_the_rest_processed(alertmanager, mutate):
    """A 400 would make Alertmanager drop the outage: bad parts are cut or skipped."""
    body = copy.deepcopy(notification(alert("a1")))
    mutate(body)
    response = alertmanager.post(URL, body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["action"] == "declared"
    assert Incident.objects.count() == 1
    logged = AlertSource.objects.get(is_default=True).payloads.get()
    assert logged.outcome == "declared" and logged.status_code == 200


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"alerts": [}'])
def test_a_body_that_is_not_a_json_object_is_a_400_and_logged(alertmanager, body):
    response = alertmanager.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] in ("parse_error", "invalid")
    logged = AlertSource.objects.get(is_default=True).payloads.get()
    assert logged.outcome == "refused" and logged.status_code == 400 and logged.detail


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_first_notifications_declare_one_incident(postgres_only, responder):
    import threading

    from django.db import connection
    from rest_framework.test import APIClient

    from tests.factories.common import api_key

    token = api_key(responder)
    barrier = threading.Barrier(2)
    statuses = []

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        barrier.wait()
        statuses.append(client.post(URL, notification(alert("a1")), format="json").json())
        connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(s["action"] for s in statuses) == ["declared", "unchanged"]
    assert Incident.objects.count() == 1
