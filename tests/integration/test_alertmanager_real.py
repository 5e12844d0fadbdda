"""A real Alertmanager 0.25 posts to a live Keel (gunicorn) with its default
``max_alerts: 0`` and its default ``Bearer`` authorization, and a real Celery worker
runs the hold-time check (issue 14's "Done when")."""

import pytest

from incidents.intake import sources
from incidents.intake.models import AlertGroup, AlertSource
from incidents.models import Incident, TimelineEvent
from notifications.models import StatusUpdate
from tests.factories.incidents import ServiceFactory, UserFactory
from tests.incidents.alert_payloads import k8s_labels
from tests.integration import faults
from tests.integration.alertmanager import Alertmanager, loopback_port
from tests.integration.conftest import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
WEBHOOK = "/api/v1/integrations/alertmanager/"


@pytest.fixture
def keel(start_web, monkeypatch):
    monkeypatch.setattr(faults, "free_port", loopback_port)  # this helper's port range
    return start_web(workers=2)


@pytest.fixture
def source(db):
    ServiceFactory(slug="checkout-api")
    ServiceFactory(slug="search")
    admin = UserFactory(username="ada", role="admin")
    made, key = sources.alert_source_create(kind="alertmanager", name="prod-eu", actor=admin)
    made.key = key
    return made


@pytest.fixture
def alertmanagers(keel, source, tmp_path):
    started = []

    def start(name: str, *, group_by=("alertname",)) -> Alertmanager:
        manager = Alertmanager(
            webhook_url=keel.url + WEBHOOK,
            key=source.key,
            tmp_path=tmp_path,
            name=name,
            group_by=group_by,
        )
        started.append(manager)
        return manager

    yield start
    for manager in started:
        manager.stop()


def _group_status(external_url: str) -> str | None:
    group = AlertGroup.objects.filter(external_url=external_url).first()
    return group.last_status if group else None


def test_a_thousand_kubernetes_alerts_in_one_group_make_one_incident(alertmanagers, source):
    manager = alertmanagers("prod")
    manager.post_alerts([{"labels": k8s_labels(i)} for i in range(1_000)])

    def all_seen():
        group = AlertGroup.objects.filter(external_url=manager.external_url).first()
        return group is not None and len(group.fingerprints) == 1_000

    wait_for(all_seen, timeout=60, what="one group holding the 1,000 alerts")
    incident = Incident.objects.get()
    assert incident.detection_source == "monitoring" and incident.severity.code == "SEV2"
    assert incident.started_at < incident.detected_at  # the alerts' startsAt
    logged = list(source.payloads.all())
    assert logged and all(row.status_code == 200 for row in logged)
    assert max(row.alerts_received for row in logged) == 1_000
    assert max(row.body_bytes for row in logged) > 256 * 1024  # past the old 413 cap
    # Alertmanager may flush the group in more than one notification (the first before
    # every alert arrived): the note of the large one says how many it left out.
    notes = incident.events.filter(kind="note").values_list("text", flat=True)
    assert any("more alerts not listed" in text for text in notes)


def test_a_second_alertmanager_is_a_separate_incident_and_its_resolve_leaves_the_first(
    alertmanagers, source
):
    AlertSource.objects.filter(pk=source.pk).update(resolve_hold_seconds=0)
    prod, staging = alertmanagers("prod"), alertmanagers("staging")
    alerts = [{"labels": k8s_labels(i)} for i in range(3)]
    prod.post_alerts(alerts)
    staging.post_alerts(alerts)
    wait_for(lambda: Incident.objects.count() == 2, timeout=30, what="two incidents")
    first = AlertGroup.objects.get(external_url=prod.external_url).incident_id

    staging.post_alerts(alerts, resolved=True)
    wait_for(
        lambda: Incident.objects.filter(stage="recover").exists(),
        timeout=30,
        what="the staging incident recovered",
    )
    recovered = Incident.objects.get(stage="recover")
    assert recovered.pk == AlertGroup.objects.get(external_url=staging.external_url).incident_id
    assert Incident.objects.get(pk=first).stage == "detect"
    assert _group_status(prod.external_url) == "firing"


def test_twenty_alerts_grouped_by_instance_for_one_service_make_one_incident(alertmanagers, source):
    manager = alertmanagers("prod", group_by=("alertname", "instance"))
    manager.post_alerts([{"labels": k8s_labels(i)} for i in range(20)])
    wait_for(
        lambda: AlertGroup.objects.filter(external_url=manager.external_url).count() == 20,
        timeout=60,
        what="20 groups",
    )
    assert Incident.objects.count() == 1
    assert AlertGroup.objects.values("incident").distinct().count() == 1


def test_a_flapping_alert_moves_the_stage_once_per_hold_and_tells_no_business_team(
    alertmanagers, source, start_worker
):
    AlertSource.objects.filter(pk=source.pk).update(resolve_hold_seconds=6)
    start_worker()
    manager = alertmanagers("prod")
    alert = [{"labels": k8s_labels(1)}]
    manager.post_alerts(alert)
    wait_for(lambda: _group_status(manager.external_url) == "firing", what="declared")
    for _ in range(2):  # flaps within the hold
        manager.post_alerts(alert, resolved=True)
        wait_for(lambda: _group_status(manager.external_url) == "resolved", what="resolved")
        manager.post_alerts(alert)
        wait_for(lambda: _group_status(manager.external_url) == "firing", what="re-fired")
        assert Incident.objects.get().stage == "detect"

    manager.post_alerts(alert, resolved=True)
    wait_for(
        lambda: Incident.objects.get().stage == "recover",
        timeout=30,
        what="recover after the hold (the worker's check)",
    )
    incident = Incident.objects.get()
    moves = incident.events.filter(
        kind__in=[TimelineEvent.Kind.STAGE_MOVED, TimelineEvent.Kind.STAGE_SKIPPED]
    )
    assert moves.count() == 1
    assert AlertGroup.objects.get().flaps == 2
    assert not StatusUpdate.objects.filter(incident=incident, audiences__slug="business").exists()
