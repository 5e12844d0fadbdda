"""A real worker killed (SIGKILL, the whole process group) in the middle of a
subscriber batch: the sends it had finished are recorded already and are not
sent again; the ones still in flight are sent by the next worker once their
lease runs out. No subscriber is left without its message, none gets two."""

import pytest
from django.utils import timezone

from incidents import services as incident_services
from notifications import services as notification_services
from statuspage.subscriber_models import Subscriber, SubscriberNotification
from tests.factories.incidents import severity
from tests.integration.conftest import wait_for
from tests.integration.faults import record_fault

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
Status = SubscriberNotification.Status
QUICK, STUCK = 8, 12
LEASE_SECONDS = 6


def _count(status: str) -> int:
    return SubscriberNotification.objects.filter(status=status).count()


def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(
    start_worker, receiver, responder
):
    for n in range(QUICK + STUCK):
        Subscriber.objects.create(
            kind="webhook",
            endpoint=f"{receiver.url}/{n}",
            secret=receiver.secret,
            confirmed_at=timezone.now(),
        )
    # The first answers come at once; the rest hang far longer than the test.
    receiver.script = [200] * QUICK + [600.0] * STUCK
    incident = incident_services.incident_declare(
        title="Checkout 502s", severity=severity("SEV2"), actor=responder
    )
    first = start_worker(
        env={
            "KEEL_OUTBOUND_TIMEOUT_SECONDS": "60",
            "KEEL_OUTBOUND_DEADLINE_SECONDS": "60",
            "KEEL_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
        }
    )
    notification_services.update_post(
        incident=incident,
        message="We are investigating errors at checkout.",
        actor=responder,
        audiences=["public"],
        public_status="investigating",
        public_title="Checkout errors",
    )

    # The batch recorded its quick sends while the stuck ones are still in flight.
    wait_for(
        lambda: _count(Status.SENT) == QUICK and _count(Status.SENDING) == STUCK,
        timeout=60,
        what="the quick sends recorded while the stuck ones wait",
    )
    killed_at = timezone.now()
    first.kill()
    sent_before = set(
        SubscriberNotification.objects.filter(status=Status.SENT).values_list("pk", flat=True)
    )

    start_worker()
    wait_for(
        lambda: _count(Status.SENT) == QUICK + STUCK,
        timeout=60,
        what="the next worker to send what the killed one had in flight",
    )
    recovered = (timezone.now() - killed_at).total_seconds()

    rows = {str(row.pk): row for row in SubscriberNotification.objects.all()}
    received = [event["id"] for event in receiver.received]
    # The stuck POSTs never completed (the receiver is still sleeping on them), so
    # every message the receiver has is one attempt that completed: once each.
    assert sorted(received) == sorted(rows) and receiver.bad_signatures == 0
    assert len(sent_before) == QUICK
    for pk, row in rows.items():
        if row.pk in sent_before:  # finished before the kill: never tried again
            assert row.attempts == 1, pk
        else:  # in flight at the kill: tried again (more than once if a retry timed out)
            assert row.attempts >= 2, pk
    record_fault(
        "subscriber_batch_worker_killed",
        injected=1,
        lost=len(set(rows) - set(received)),
        duplicated=len(received) - len(set(received)),
        api={"batch": f"SIGKILL with {QUICK} sends recorded and {STUCK} in flight"},
        recovery_seconds=round(recovered, 1),
    )
