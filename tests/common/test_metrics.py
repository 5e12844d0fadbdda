"""/metrics: figures that move as incidents, alerts, action items and the status
page change; HTTP counted by view (route name, bounded); a fixed number of
queries per scrape whatever the data. Across gunicorn workers:
tests/integration/test_metrics_workers.py."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import services
from incidents.models import Incident
from postmortems import services as postmortem_services
from statuspage import snapshot
from tests.factories.incidents import severity
from tests.factories.notifications import DestinationFactory
from tests.factories.postmortems import started_postmortem
from tests.incidents.test_alertmanager import alert, notification
from tests.metrics_text import parse, scrape, value

pytestmark = pytest.mark.django_db
ALERTMANAGER = "/api/v1/integrations/alertmanager/"


@pytest.fixture(autouse=True)
def ops_network(settings):
    settings.KEEL_OPS_ALLOW_CIDRS = ["127.0.0.1/32"]


def declare(responder, code="SEV2", **kwargs):
    return services.incident_declare(
        title="Checkout errors", severity=severity(code), actor=responder, **kwargs
    )


def test_open_incidents_by_stage_and_severity_keep_their_zeros(client, responder):
    incident = declare(responder, "SEV1")
    before = scrape(client)
    assert value(before, "keel_open_incidents", severity="SEV1", stage="detect") == 1
    assert value(before, "keel_open_incidents", severity="SEV1", stage="propagate") == 0

    services.incident_move(incident=incident, to="propagate", actor=responder)

    after = scrape(client)
    assert value(after, "keel_open_incidents", severity="SEV1", stage="detect") == 0
    assert value(after, "keel_open_incidents", severity="SEV1", stage="propagate") == 1
    assert value(after, "keel_open_incidents", severity="SEV4", stage="retrospect") == 0


def test_incidents_declared_count_by_severity_and_source(client, responder):
    declare(responder, "SEV1")
    declare(responder, "SEV1", source="api")
    declare(responder, "SEV3", source="slack")
    samples = scrape(client)
    assert value(samples, "keel_incidents_declared_total", severity="SEV1", source="web") == 1
    assert value(samples, "keel_incidents_declared_total", severity="SEV1", source="api") == 1
    assert value(samples, "keel_incidents_declared_total", severity="SEV3", source="slack") == 1
    assert value(samples, "keel_incidents_declared_total", severity="SEV2", source="alert") == 0


def test_stage_durations_are_histograms_of_the_lifecycle_times(client, responder):
    now = timezone.now()
    incident = declare(
        responder, started_at=now - timedelta(minutes=10), detected_at=now - timedelta(minutes=3)
    )
    services.incident_move(incident=incident, to="propagate", actor=responder)
    false_alarm = declare(responder, started_at=now - timedelta(hours=5))
    services.incident_close(
        incident=false_alarm, actor=responder, outcome="false_alarm", note="flap"
    )

    samples = scrape(client)
    name = "keel_incident_stage_duration_seconds"
    # Time to detect: 7 minutes. The false alarm is not measured.
    assert value(samples, f"{name}_count", stage="detect") == 1
    assert value(samples, f"{name}_bucket", stage="detect", le="300.0") == 0
    assert value(samples, f"{name}_bucket", stage="detect", le="900.0") == 1
    assert 419 <= value(samples, f"{name}_sum", stage="detect") <= 421
    # Propagate reached about 3 minutes after detection.
    assert value(samples, f"{name}_bucket", stage="propagate", le="60.0") == 0
    assert value(samples, f"{name}_bucket", stage="propagate", le="300.0") == 1
    assert value(samples, f"{name}_count", stage="recover") == 0
    assert value(samples, f"{name}_bucket", stage="recover", le="+Inf") == 0


def test_alert_notifications_count_each_outcome_and_each_refusal(
    client, as_user, responder, viewer
):
    alertmanager = as_user(responder)
    before = scrape(client)  # the counters are the process's: other tests posted too
    declared = alertmanager.post(ALERTMANAGER, notification(alert("a1")), format="json")
    repeated = alertmanager.post(ALERTMANAGER, notification(alert("a1")), format="json")
    refused = alertmanager.post(ALERTMANAGER, "[1, 2]", content_type="application/json")
    malformed = alertmanager.post(ALERTMANAGER, "{not json", content_type="application/json")
    forbidden = as_user(viewer).post(ALERTMANAGER, notification(alert("a2")), format="json")
    assert [r.status_code for r in (declared, repeated, refused, malformed, forbidden)] == [
        200,
        200,
        400,
        400,
        403,
    ]

    samples = scrape(client)

    def count(outcome):
        labels = {"integration": "alertmanager", "outcome": outcome}
        name = "keel_alert_notifications_total"
        return value(samples, name, **labels) - value(before, name, **labels)

    assert (count("declared"), count("unchanged"), count("refused"), count("forbidden")) == (
        1,
        1,
        2,
        1,
    )
    declared_total = {"severity": "SEV2", "source": "alert"}
    assert value(samples, "keel_incidents_declared_total", **declared_total) == 1


def test_http_requests_are_counted_by_route_name_not_by_path(client, responder):
    first, second = declare(responder), declare(responder)
    client.force_login(responder)
    before = scrape(client)

    def detail_count(samples):
        return samples.get(
            (
                "keel_http_requests_total",
                frozenset({"view": "incidents:detail", "method": "GET", "status": "200"}.items()),
            ),
            0,
        )

    for incident in (first, second, first):
        assert client.get(f"/incidents/{incident.pk}/").status_code == 200
    client.get("/no/such/page/")

    after = scrape(client)
    assert detail_count(after) - detail_count(before) == 3
    assert not any(str(first.pk) in dict(labels).get("view", "") for _, labels in after)
    unmatched = ("view", "unmatched")
    assert any(name == "keel_http_requests_total" and unmatched in labels for name, labels in after)
    histogram = "keel_http_request_duration_seconds_count"
    assert value(after, histogram, view="incidents:detail") >= 3


def test_overdue_action_items_are_counted_by_priority(client, responder):
    postmortem = started_postmortem(actor=responder)
    yesterday = timezone.localdate() - timedelta(days=1)
    postmortem_services.action_item_create(
        postmortem=postmortem,
        actor=responder,
        data={"title": "Alert on the pool", "due_date": yesterday, "priority": "P1"},
    )
    postmortem_services.action_item_create(
        postmortem=postmortem,
        actor=responder,
        data={"title": "Later", "due_date": timezone.localdate() + timedelta(days=7)},
    )
    samples = scrape(client)
    assert value(samples, "keel_action_items_overdue", priority="P1") == 1
    assert (
        sum(value(samples, "keel_action_items_overdue", priority=p) for p in ("P2", "P3", "P4"))
        == 0
    )


def test_snapshot_age_is_minus_one_until_published_then_its_age(client):
    assert value(scrape(client), "keel_statuspage_snapshot_age_seconds") == -1
    snapshot.snapshot_publish(now=timezone.now() - timedelta(minutes=20))
    samples = scrape(client)
    assert 1199 <= value(samples, "keel_statuspage_snapshot_age_seconds") < 1260
    assert value(samples, "keel_ready", check="statuspage_snapshot") == 0


def test_readiness_checks_are_series(client):
    samples = scrape(client)
    assert value(samples, "keel_ready", check="database") == 1
    assert value(samples, "keel_ready", check="worker_heartbeat") == 0  # no worker seen


def test_a_scrape_makes_the_same_number_of_queries_whatever_the_data(
    client, responder, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def scrape_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/metrics").status_code == 200
        return len(queries)

    empty = scrape_queries()
    for n in range(5):
        incident = declare(responder, ("SEV1", "SEV2", "SEV3")[n % 3])
        services.incident_move(incident=incident, to="propagate", actor=responder)
    for n in range(3):
        DestinationFactory(name=f"channel {n}", target=f"C{n}")
    declare(responder, "SEV4")
    busy = scrape_queries()
    assert empty == busy
    with django_assert_num_queries(busy):
        client.get("/metrics")
    assert busy <= 16  # one query per figure group; the alert sources added one
    assert Incident.objects.count() == 6


def test_the_real_output_parses_and_counters_end_in_total(client, responder):
    declare(responder)
    text = client.get("/metrics").content.decode()
    families = {name for name, _ in parse(text)}
    assert "keel_incidents_declared_total" in families
    assert "keel_http_requests_total" in families or "keel_alert_notifications_total" in families


def test_what_is_answered_before_routing_names_itself(client):
    snapshot.snapshot_publish()
    assert client.get("/status/").status_code == 200  # served from the snapshot
    client.get("/static/no-such-file.css")
    samples = scrape(client)
    assert (
        value(samples, "keel_http_request_duration_seconds_count", view="statuspage:snapshot") >= 1
    )
    assert any(
        name == "keel_http_requests_total" and ("view", "static") in labels
        for name, labels in samples
    )
