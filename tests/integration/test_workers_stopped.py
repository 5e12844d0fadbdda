"""Every worker stopped: updates are accepted and wait, /readyz says 503 naming the
heartbeat, /metrics counts what waits, the incident page says how many updates
wait and why; a worker started again delivers each exactly once."""

import re
import time

import pytest
from django.test import Client

from incidents import services as incident_services
from notifications.models import Delivery, Destination
from statuspage import snapshot
from tests.factories.common import api_key
from tests.factories.incidents import severity
from tests.factories.notifications import DestinationFactory, audience
from tests.integration.conftest import wait_for
from tests.integration.faults import record_fault

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
UPDATES_WHILE_STOPPED = 3


def _all_sent(expected: int):
    def check():
        statuses = list(Delivery.objects.values_list("status", flat=True))
        return len(statuses) == expected and all(s == Delivery.Status.SENT for s in statuses)

    return check


def test_all_workers_stopped_is_visible_and_recovers_exactly_once(
    start_worker, start_web, receiver, responder, monkeypatch
):
    # Short thresholds so a stop is visible in seconds; the code paths are production's.
    monkeypatch.setenv("KEEL_WORKER_HEARTBEAT_SECONDS", "1")
    incident = incident_services.incident_declare(
        title="Workers gone", severity=severity("SEV3"), actor=responder
    )
    DestinationFactory(
        audience=audience("responders"),
        kind=Destination.Kind.WEBHOOK,
        target=receiver.url,
        secret=receiver.secret,
    )
    snapshot.snapshot_publish()
    headers = {"Authorization": f"Token {api_key(responder)}"}
    browser = Client()
    browser.force_login(responder)
    cookie = {"Cookie": f"sessionid={browser.cookies['sessionid'].value}"}
    worker = start_worker()
    web = start_web(
        KEEL_WORKER_HEARTBEAT_MAX_AGE_SECONDS="3",
        KEEL_DELIVERY_PENDING_MAX_AGE_SECONDS="5",
        KEEL_DELIVERY_WAITING_BANNER_SECONDS="2",
    )

    def post(message: str) -> int:
        return web.request(
            "POST",
            f"/api/v1/incidents/{incident.pk}/updates/",
            body={"message": message, "audiences": ["responders"]},
            headers=headers,
        )[0]

    wait_for(lambda: web.get("/readyz")[0] == 200, timeout=30, what="/readyz 200 with a worker")
    assert post("Before the stop.") == 201
    wait_for(_all_sent(1), what="the first update")

    stopped = time.monotonic()
    worker.stop()  # SIGTERM: a warm shutdown, as a deploy or a crash loop would leave it
    for n in range(UPDATES_WHILE_STOPPED):
        assert post(f"While stopped {n}.") == 201

    def heartbeat_failing():
        status, _, body = web.get("/readyz")
        return status == 503 and b'"worker_heartbeat": {"ok": false' in body and body

    body = wait_for(heartbeat_failing, timeout=30, what="/readyz naming the heartbeat")
    detected = time.monotonic() - stopped
    assert b"a worker was last seen" in body

    def banner():
        page = web.get(f"/incidents/{incident.pk}/", headers=cookie)[2].decode()
        return "data-waiting" in page and page

    page = wait_for(banner, timeout=30, what="the waiting banner")
    assert re.search(
        rf"{UPDATES_WHILE_STOPPED} updates waiting \d+s:</strong> no worker has been seen for \d+s",
        page,
    ), page
    metrics = web.get("/metrics")[2].decode()
    assert f'keel_deliveries{{status="pending"}} {UPDATES_WHILE_STOPPED}' in metrics
    assert re.search(r"^keel_worker_heartbeat_age_seconds [3-9]", metrics, re.M), metrics

    restarted = time.monotonic()
    start_worker()
    expected = 1 + UPDATES_WHILE_STOPPED
    wait_for(_all_sent(expected), timeout=60, what="the updates posted while stopped")
    wait_for(lambda: web.get("/readyz")[0] == 200, timeout=30, what="/readyz 200 again")
    recovery = time.monotonic() - restarted
    assert len(receiver.by_id) == expected
    assert len(receiver.received) == expected, "a webhook was delivered twice"
    assert "data-waiting" not in web.get(f"/incidents/{incident.pk}/", headers=cookie)[2].decode()
    record_fault(
        "workers_stopped",
        injected=1,
        writes_during_fault=UPDATES_WHILE_STOPPED,
        lost=expected - len(receiver.by_id),
        duplicated=len(receiver.received) - len(receiver.by_id),
        api={
            "POST updates": "201 (accepted, pending)",
            "GET /readyz": f"503 naming worker_heartbeat {detected:.1f} s after the stop "
            "(limit 3 s in this test; 60 s by default)",
            "incident banner": f"{UPDATES_WHILE_STOPPED} updates waiting: no worker has been seen",
        },
        recovery_seconds=round(recovery, 1),
    )
