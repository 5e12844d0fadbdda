"""A frozen Redis (SIGSTOP'd: the kernel accepts and acknowledges, nothing answers)
of the test's own, in front of a live gunicorn and a real worker: writes are
accepted within the publish bound, readiness says 503 within its bound, and once
Redis answers again the sweeper delivers every update exactly once."""

import os
import signal
import time

import pytest

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

# KEEL_BROKER_PUBLISH_TIMEOUT_MS is 300 ms on the web; a request also does its own work.
PUBLISH_BOUND_SECONDS = 1.0
UPDATES_DURING_THE_FREEZE = 5


def _all_sent(expected: int):
    def check():
        statuses = list(Delivery.objects.values_list("status", flat=True))
        return len(statuses) == expected and all(s == Delivery.Status.SENT for s in statuses)

    return check


def test_a_frozen_redis_costs_a_write_at_most_the_publish_bound_and_loses_nothing(
    start_worker, start_web, receiver, spare_redis, responder
):
    incident = incident_services.incident_declare(
        title="Queue stalls", severity=severity("SEV3"), actor=responder
    )
    # Added after the declaration, so only the updates posted below are delivered.
    DestinationFactory(
        audience=audience("responders"),
        kind=Destination.Kind.WEBHOOK,
        target=receiver.url,
        secret=receiver.secret,
    )
    snapshot.snapshot_publish()
    headers = {"Authorization": f"Token {api_key(responder)}"}
    start_worker(redis_url=spare_redis.url)
    web = start_web(redis_url=spare_redis.url)

    def post(message: str):
        return web.request(
            "POST",
            f"/api/v1/incidents/{incident.pk}/updates/",
            body={"message": message, "audiences": ["responders"]},
            headers=headers,
        )

    assert post("Before the freeze.")[0] == 201
    wait_for(_all_sent(1), what="the first update")

    os.kill(spare_redis.process.pid, signal.SIGSTOP)
    figures: dict = {}
    try:
        timings = []
        for n in range(UPDATES_DURING_THE_FREEZE):
            status, _, body, seconds = post(f"During the freeze {n}.")
            assert status == 201, body
            timings.append(seconds)
        figures["POST updates (max)"] = f"201 in {max(timings):.2f} s"
        assert max(timings) < PUBLISH_BOUND_SECONDS, timings
        for path in ("/healthz", "/status/"):
            status, _, _, seconds = web.request("GET", path)
            figures[f"GET {path}"] = f"{status} in {seconds:.2f} s"
            assert status == 200 and seconds < PUBLISH_BOUND_SECONDS
        status, _, body, seconds = web.request("GET", "/readyz")
        figures["GET /readyz"] = f"{status} in {seconds:.2f} s"
        assert status == 503 and seconds < 8, body
        assert b'"broker"' in body
        assert Delivery.objects.filter(status=Delivery.Status.PENDING).count() == (
            UPDATES_DURING_THE_FREEZE
        )
    finally:
        os.kill(spare_redis.process.pid, signal.SIGCONT)
    thawed = time.monotonic()

    expected = 1 + UPDATES_DURING_THE_FREEZE
    wait_for(_all_sent(expected), timeout=90, what="the updates posted during the freeze")
    recovery = time.monotonic() - thawed
    assert len(receiver.by_id) == expected
    assert len(receiver.received) == expected, "a webhook was delivered twice"
    record_fault(
        "redis_frozen",
        injected=1,
        writes_during_fault=UPDATES_DURING_THE_FREEZE,
        lost=expected - len(receiver.by_id),
        duplicated=len(receiver.received) - len(receiver.by_id),
        api=figures,
        recovery_seconds=round(recovery, 1),
    )
