"""/healthz, /readyz (real dependency checks, bounded) and /metrics."""

import re
import threading
from unittest import mock

import pytest
from django.db import connection

from common import health
from incidents import services
from notifications import services as notification_services
from tests.factories.incidents import SeverityFactory, severity

CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def ops_network(settings):
    """These tests read the details: the test client's address is an ops network.
    Access control itself is tested in tests/security/test_ops_endpoints.py."""
    settings.KEEL_OPS_ALLOW_CIDRS = ["127.0.0.1/32"]


@pytest.mark.django_db
def test_healthz_is_ok_without_touching_dependencies(client, django_assert_num_queries, settings):
    settings.CELERY_BROKER_URL = CLOSED_PORT_REDIS
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_is_get_only(client):
    assert client.post("/healthz").status_code == 405


@pytest.fixture
def worker_seen(db):
    """A worker ran the heartbeat task just now (committed: the checks run in threads)."""
    notification_services.worker_heartbeat_record(hostname="celery@test")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_readyz_when_everything_is_up(client, settings, worker_seen):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ready"
    expected = {"database", "broker", "worker_heartbeat", "deliveries"} | (
        {"redis"} if settings.REDIS_URL else set()
    )
    assert set(body["checks"]) == expected
    for check in body["checks"].values():
        assert check["ok"] is True
        assert isinstance(check["millis"], int | float)
    assert body["checks"]["database"]["detail"] == connection.vendor


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_readyz_with_real_redis(client, settings, redis_url, worker_seen):
    response = client.get("/readyz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["redis"] == {**checks["redis"], "ok": True, "detail": "pong"}
    assert checks["broker"]["ok"] is True


@pytest.mark.django_db
def test_readyz_is_503_naming_a_broker_that_is_down(client, settings):
    settings.CELERY_BROKER_URL = CLOSED_PORT_REDIS
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["broker"]["detail"]
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_readyz_is_503_naming_redis_when_it_is_down(client, settings):
    settings.REDIS_URL = CLOSED_PORT_REDIS
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["redis"]["ok"] is False
    assert "Connection" in checks["redis"]["detail"] or "refused" in checks["redis"]["detail"]


@pytest.mark.django_db
def test_readyz_is_503_naming_the_database_when_it_fails(client):
    with mock.patch.object(
        health, "connection", mock.Mock(cursor=mock.Mock(side_effect=RuntimeError("db gone")))
    ):
        response = client.get("/readyz")
    assert response.status_code == 503
    database = response.json()["checks"]["database"]
    assert database["ok"] is False and "db gone" in database["detail"]


def test_check_details_are_bounded():
    result = health.timed_check("x", lambda: (_ for _ in ()).throw(ValueError("e" * 5000)))
    assert result.ok is False and len(result.detail) <= 300


@pytest.mark.django_db
def test_metrics_are_prometheus_text_with_open_incidents(client, responder):
    services.incident_declare(title="a", severity=severity("SEV1"), actor=responder)
    services.incident_declare(title="b", severity=severity("SEV1"), actor=responder)
    closed = services.incident_declare(title="c", severity=severity("SEV4"), actor=responder)
    services.incident_move(incident=closed, to="retrospect", actor=responder)
    services.incident_close(incident=closed, actor=responder)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    assert "# TYPE keel_open_incidents gauge" in text
    assert 'keel_open_incidents{severity="SEV1",stage="detect"} 2.0' in text
    # Zeros are present: a series does not vanish when its last incident closes.
    assert 'keel_open_incidents{severity="SEV4",stage="retrospect"} 0.0' in text
    assert f'keel_database_vendor_info{{vendor="{connection.vendor}"}} 1.0' in text
    sample = re.compile(r'^[a-z_]+(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? [0-9.e+-]+$')
    for line in text.splitlines():
        assert line.startswith("# ") or sample.match(line), line


@pytest.mark.django_db
def test_metrics_with_no_incidents_still_name_the_gauge(client):
    text = client.get("/metrics").content.decode()
    assert "# HELP keel_open_incidents" in text


@pytest.mark.django_db
def test_metrics_escape_label_values(client, responder):
    odd = SeverityFactory(code='S"\\1')
    services.incident_declare(title="a", severity=odd, actor=responder)
    text = client.get("/metrics").content.decode()
    assert 'keel_open_incidents{severity="S\\"\\\\1",stage="detect"} 1.0' in text


@pytest.mark.django_db
def test_a_check_that_never_answers_does_not_hang_readiness(client, settings):
    """One hung dependency: /readyz answers 503 within its bound, names it, and a
    second call does not start another thread behind the stuck one."""
    settings.KEEL_READINESS_TIMEOUT_SECONDS = 1
    release = threading.Event()
    started = []

    def hung():
        started.append(1)
        release.wait(30)
        return [health.CheckResult("hung", True, "late", 0.0)]

    health.register(("hung",), hung)
    try:
        first = client.get("/readyz")
        second = client.get("/readyz")
    finally:
        release.set()
        health._registered.remove((("hung",), hung))
    assert first.status_code == 503 and second.status_code == 503
    assert first.json()["checks"]["hung"]["detail"] == "no answer within 1 s"
    assert "previous check has been waiting" in second.json()["checks"]["hung"]["detail"]
    assert first.json()["checks"]["database"]["ok"] is True
    assert len(started) == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_readyz_names_a_silent_worker_and_a_delivery_waiting_too_long(client, settings, responder):
    from datetime import timedelta

    from django.utils import timezone

    from notifications.models import Delivery
    from tests.factories.notifications import DestinationFactory, audience

    settings.CELERY_TASK_ALWAYS_EAGER = False
    long_ago = timezone.now() - timedelta(minutes=5)
    notification_services.worker_heartbeat_record(hostname="celery@gone", at=long_ago)
    incident = services.incident_declare(title="a", severity=severity("SEV3"), actor=responder)
    DestinationFactory(audience=audience("responders"))
    update = notification_services.update_post(
        incident=incident, message="m", audiences=["responders"], actor=responder
    )
    Delivery.objects.filter(update=update).update(created_at=long_ago)

    response = client.get("/readyz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["worker_heartbeat"]["ok"] is False
    assert "last seen 300 s ago (limit 60 s)" in checks["worker_heartbeat"]["detail"]
    assert checks["deliveries"]["ok"] is False
    assert "has waited 300 s (limit 120 s)" in checks["deliveries"]["detail"]
    assert checks["database"]["ok"] is True


@pytest.mark.django_db
def test_readyz_names_a_worker_never_seen(client):
    checks = client.get("/readyz").json()["checks"]
    assert checks["worker_heartbeat"] == {
        **checks["worker_heartbeat"],
        "ok": False,
        "detail": "no worker has been seen",
    }


@pytest.mark.django_db
def test_metrics_show_every_delivery_status_the_backlog_age_and_the_heartbeat(client, responder):
    from datetime import timedelta

    from django.utils import timezone

    from notifications.models import Delivery
    from tests.factories.notifications import DestinationFactory, audience

    text = client.get("/metrics").content.decode()
    for status in Delivery.Status.values:
        assert f'keel_deliveries{{status="{status}"}} 0' in text  # zero, not missing
    assert "keel_deliveries_oldest_pending_age_seconds 0.0" in text
    assert "keel_worker_heartbeat_age_seconds -1" in text

    incident = services.incident_declare(title="a", severity=severity("SEV3"), actor=responder)
    DestinationFactory(audience=audience("responders"))
    update = notification_services.update_post(
        incident=incident, message="m", audiences=["responders"], actor=responder
    )
    Delivery.objects.filter(update=update).update(created_at=timezone.now() - timedelta(seconds=90))
    notification_services.worker_heartbeat_record(
        hostname="celery@a", at=timezone.now() - timedelta(seconds=20)
    )

    text = client.get("/metrics").content.decode()
    assert 'keel_deliveries{status="pending"} 1' in text
    age = float(re.search(r"^keel_deliveries_oldest_pending_age_seconds (\S+)$", text, re.M)[1])
    assert 90 <= age < 150
    heartbeat = float(re.search(r"^keel_worker_heartbeat_age_seconds (\S+)$", text, re.M)[1])
    assert 20 <= heartbeat < 80
