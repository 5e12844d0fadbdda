"""Alert sources: keys, the payload log, any body size, correlation, rules, flap damping."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from common.roles import ADMINS
from incidents.intake import settle, sources
from incidents.intake.models import AlertGroup, AlertSource
from incidents.models import Incident
from notifications.models import StatusUpdate
from tests.factories.incidents import ServiceFactory
from tests.incidents.alert_payloads import am_alert, am_notification, k8s_labels

pytestmark = pytest.mark.django_db
URL = "/api/v1/integrations/alertmanager/"


@pytest.fixture
def source(admin_user):
    ServiceFactory(slug="checkout-api")
    ServiceFactory(slug="search")
    made, key = sources.alert_source_create(kind="alertmanager", name="prod-eu", actor=admin_user)
    made.key = key
    return made


def client_for(key: str, scheme: str = "Bearer") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
    return client


def post(client, body, url=URL):
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("how", ["Bearer", "Token", "url"])
def test_a_source_key_works_as_bearer_token_or_url_secret(source, how):
    client = APIClient() if how == "url" else client_for(source.key, how)
    url = f"{URL}?token={source.key}" if how == "url" else URL
    response = post(client, am_notification(am_alert("a1")), url)
    assert response.status_code == 200, response.content
    assert response.json()["action"] == "declared"
    assert response.json()["source"] == "Alertmanager prod-eu"
    incident = Incident.objects.get()
    assert incident.created_by == source.user
    note = incident.events.get(kind="note")
    assert note.text.startswith("via Alertmanager prod-eu")


def test_a_rotated_key_stops_working_and_a_key_is_for_its_kind(source, admin_user):
    old = source.key
    new = sources.alert_source_rotate_key(source=source, actor=admin_user)
    assert post(client_for(old), am_notification(am_alert("a1"))).status_code == 401
    assert post(client_for(new), am_notification(am_alert("a1"))).status_code == 200
    wrong = post(client_for(new), {"key": "x"}, "/api/v1/integrations/webhook/")
    assert wrong.status_code == 403
    assert AlertSource.objects.get(pk=source.pk).key_hash != old


def test_the_log_keeps_the_last_payloads_with_their_outcome_and_a_cut_body(source, settings):
    settings.KEEL_ALERT_LOG_KEEP = 3
    settings.KEEL_ALERT_LOG_BODY_BYTES = 500
    client = client_for(source.key)
    for index in range(5):
        post(client, am_notification(am_alert(f"a{index}", pod="x" * 300)))
    logged = list(source.payloads.all())
    assert len(logged) == 3
    assert [row.outcome for row in logged] == ["noted", "noted", "noted"]
    assert logged[0].body.endswith("more bytes not kept)") and logged[0].body_bytes > 500
    assert all(row.incident_ids == [Incident.objects.get().pk] for row in logged)


def test_a_body_over_the_cap_processes_the_alerts_that_fit_and_records_the_rest(source, settings):
    settings.KEEL_ALERT_MAX_BODY_BYTES = 60_000
    alerts = [am_alert(f"fp{i:04d}", **k8s_labels(i)) for i in range(200)]
    body = am_notification(*alerts, truncated=7)
    raw = json.dumps(body, separators=(",", ":"))
    assert len(raw) > 2 * 60_000

    response = post(client_for(source.key), body)

    assert response.status_code == 200, response.content
    counts = response.json()["alerts"]
    kept = 200 - (counts["dropped"] - 7)
    assert counts["received"] == 200 and 0 < kept < 200 and counts["malformed"] == 0
    group = AlertGroup.objects.get()
    assert group.group_key == '{}:{alertname="HighErrorRate"}'  # from the body's tail
    assert len(group.fingerprints) == kept
    note = Incident.objects.get().events.get(kind="note")
    listed = note.text.count("\n- [firing]") + note.text.startswith("- [")
    assert 0 < listed <= 60 and len(note.text) <= 9_000
    # Those not listed, over the cap and the sender's truncatedAlerts are all counted.
    assert note.text.endswith(f"… and {200 + 7 - listed} more alerts not listed.")
    assert source.payloads.get().alerts_dropped == counts["dropped"]


def test_zero_start_times_are_ignored(source):
    alert = am_alert("a1")
    alert["startsAt"] = "0001-01-01T00:00:00Z"
    post(client_for(source.key), am_notification(alert))
    incident = Incident.objects.get()
    assert incident.started_at == incident.detected_at
    assert incident.detection_source == "monitoring"


def test_two_alertmanagers_make_two_incidents_and_one_resolve_leaves_the_other(source):
    client = client_for(source.key)
    prod = post(client, am_notification(am_alert("a1"), external_url="http://am-prod"))
    staging = post(client, am_notification(am_alert("a1"), external_url="http://am-staging"))
    assert prod.json()["incident"] != staging.json()["incident"]
    AlertSource.objects.filter(pk=source.pk).update(resolve_hold_seconds=0)
    resolved = post(
        client,
        am_notification(
            am_alert("a1", "resolved"), status="resolved", external_url="http://am-staging"
        ),
    )
    assert resolved.json()["action"] == "recovered"
    assert Incident.objects.get(pk=prod.json()["incident"]).stage == "detect"
    assert Incident.objects.get(pk=staging.json()["incident"]).stage == "recover"


def test_groups_by_instance_of_one_service_attach_to_one_incident(source):
    client = client_for(source.key)
    actions = [
        post(
            client,
            am_notification(
                am_alert(f"i{i}", instance=f"10.0.0.{i}:80", service="checkout-api"),
                group_key=f'{{}}:{{alertname="HighErrorRate",instance="10.0.0.{i}:80"}}',
            ),
        ).json()["action"]
        for i in range(5)
    ]
    assert actions == ["declared", "attached", "attached", "attached", "attached"]
    assert Incident.objects.count() == 1 and AlertGroup.objects.count() == 5
    other = post(client, am_notification(am_alert("s1"), group_key="search", service="search"))
    assert other.json()["action"] == "declared" and Incident.objects.count() == 2


def test_no_correlation_outside_the_window(source):
    client = client_for(source.key)
    post(client, am_notification(am_alert("a1"), group_key="one"))
    AlertGroup.objects.update(last_received_at=timezone.now() - timedelta(minutes=61))
    assert post(client, am_notification(am_alert("a2"), group_key="two")).json()["action"] == (
        "declared"
    )


def test_ignore_and_attach_only_rules(source, admin_user):
    client = client_for(source.key)
    watchdog = post(client, am_notification(am_alert("w", alertname="Watchdog"), group_key="w"))
    assert watchdog.json()["action"] == "ignored" and watchdog.json()["alerts"]["ignored"] == 1
    info = am_notification(am_alert("i1", severity="info"), group_key="info")
    info["commonLabels"]["severity"] = "info"
    assert post(client, info).json()["action"] == "ignored"  # attach only: nothing to attach to
    assert not Incident.objects.exists()
    post(client, am_notification(am_alert("a1"), group_key="real"))
    assert post(client, info).json()["action"] == "attached"
    assert Incident.objects.count() == 1


def test_the_severity_map_is_the_sources(source, admin_user):
    sources.alert_source_update_rules(
        source=source,
        actor=admin_user,
        ignore_matchers="",
        attach_only_matchers="",
        severity_label="priority",
        severity_map={"p1": "sev1"},
        service_labels="app",
        service_map={"shop": "checkout-api"},
        correlation_window_minutes=60,
        resolve_hold_seconds=300,
    )
    body = am_notification(am_alert("a1", priority="P1", app="shop"))
    body["commonLabels"] = {"alertname": "HighErrorRate"}
    post(client_for(source.key), body)
    incident = Incident.objects.get()
    assert incident.severity.code == "SEV1"
    assert [s.slug for s in incident.services.all()] == ["checkout-api"]


def test_a_flapping_alert_moves_once_per_hold_and_never_tells_the_business_team(source):
    client = client_for(source.key)
    firing = am_notification(am_alert("a1"))
    resolved = am_notification(am_alert("a1", "resolved"), status="resolved")
    incident_id = post(client, firing).json()["incident"]
    flaps = [post(client, body).json()["action"] for body in [resolved, firing] * 3]
    assert flaps == ["resolving", "flapping"] * 3
    assert post(client, resolved).json()["action"] == "resolving"
    assert settle.incident_settle(incident_id=incident_id) == "holding"  # within the hold
    AlertGroup.objects.update(resolved_since=timezone.now() - timedelta(seconds=301))
    assert settle.groups_settle_due() == 1
    incident = Incident.objects.get()
    assert incident.stage == "recover"
    moved = incident.events.filter(kind__in=["stage_moved", "stage_skipped"])
    assert moved.count() == 1 and "Re-fires within the hold, not announced: 3" in moved[0].text
    assert AlertGroup.objects.get().flaps == 3
    updates = StatusUpdate.objects.filter(incident=incident)
    assert updates.exists()  # the responders were told
    assert not updates.filter(audiences__slug="business").exists()


def test_the_business_team_hears_of_alert_moves_when_configured(source, settings):
    settings.KEEL_ALERT_NOTIFY_BUSINESS = True
    post(client_for(source.key), am_notification(am_alert("a1")))
    assert StatusUpdate.objects.filter(audiences__slug="business").exists()


def test_a_notification_that_only_updates_costs_at_most_ten_queries(source):
    """Counted with the notification's transaction (here a savepoint pair; BEGIN and
    COMMIT in production), the key's look-up and the payload log: the same for one
    alert as for fifty."""
    client = client_for(source.key)
    post(client, am_notification(am_alert("a1")))
    more = [am_alert(f"b{n}") for n in range(50)]
    steps = {
        "unchanged": am_notification(am_alert("a1")),
        "noted": am_notification(am_alert("a1"), am_alert("a2")),
        "resolving": am_notification(
            am_alert("a1", "resolved"), am_alert("a2", "resolved"), status="resolved"
        ),
        "flapping": am_notification(am_alert("a1"), am_alert("a2")),
        "noted again": am_notification(am_alert("a1"), am_alert("a2"), *more),
    }
    counts = {}
    for step, body in steps.items():
        with CaptureQueriesContext(connection) as queries:
            answer = post(client, body).json()
        assert answer["action"] == step.removesuffix(" again"), (step, answer)
        counts[step] = [q["sql"][:120] for q in queries.captured_queries]
    assert all(len(sql) <= 10 for sql in counts.values()), counts
    assert len(counts["noted"]) == len(counts["noted again"]), counts
    incident = Incident.objects.get()
    assert incident.events.filter(kind="note").count() == 3  # declared, a2, the fifty
    assert incident.history.count() == 1
    latest = incident.events.filter(kind="note").order_by("-occurred_at", "-pk").first()
    assert "more alerts firing" in latest.text
    assert latest.history.get().history_user == source.user


def test_the_role_read_with_the_key_still_decides(source):
    """The source's user's role groups come with its key's look-up: a user no longer
    a responder is refused, an admin (not a responder) is let through."""
    client = client_for(source.key)
    post(client, am_notification(am_alert("a1")))
    source.user.groups.clear()

    refused = post(client, am_notification(am_alert("a1"), am_alert("a2")))

    assert refused.status_code == 403, refused.content
    assert Incident.objects.get().events.filter(kind="note").count() == 1
    source.user.groups.add(Group.objects.get_or_create(name=ADMINS)[0])
    assert post(client, am_notification(am_alert("a1"), am_alert("a2"))).json()["action"] == "noted"


def test_the_api_body_cap_does_not_apply_to_alert_intake(source, settings):
    settings.KEEL_MAX_BODY_BYTES = 10_000
    body = am_notification(*[am_alert(f"fp{i}", **k8s_labels(i)) for i in range(60)])
    assert len(json.dumps(body)) > 4 * 10_000
    assert post(client_for(source.key), body).json()["action"] == "declared"
    assert len(AlertGroup.objects.get().fingerprints) == 60
    elsewhere = client_for(source.key).post(
        "/api/v1/incidents/", json.dumps({"title": "x" * 20_000}), content_type="application/json"
    )
    assert elsewhere.status_code == 413
