"""docs/examples/webhook_receiver.py, run as its own process, against real signed
deliveries from Keel: it verifies them with the ``standardwebhooks`` library,
refuses a forged one, drops a repeat, and confirms a status-page subscription by
echoing the challenge."""

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.utils import timezone

from incidents import services as incident_services
from notifications import outbox
from notifications import services as notification_services
from notifications.channels import webhook as webhook_channel
from notifications.channels.base import Outcome
from notifications.models import Delivery, Destination
from statuspage import subscriptions
from statuspage.subscriber_models import Subscriber, SubscriberNotification
from statuspage.subscriber_outbox import notification_attempt
from tests.factories.incidents import ServiceFactory, severity
from tests.factories.notifications import DestinationFactory, audience

pytestmark = pytest.mark.django_db
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "webhook_receiver.py"
PORT = 19641  # this helper's port range


class Example:
    def __init__(self, secret: str):
        self.process = subprocess.Popen(
            [sys.executable, str(EXAMPLE), str(PORT)],
            env={**os.environ, "KEEL_WEBHOOK_SECRET": secret},
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.next() == {"listening": f"http://127.0.0.1:{PORT}/"}

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(json.loads(line))

    def next(self) -> dict:
        return self.lines.get(timeout=20)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def subscribed(settings):
    """A webhook subscription to the example's address, and the example running
    with the secret Keel handed out for it."""
    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = True
    settings.KEEL_OUTBOUND_TIMEOUT_SECONDS = 5
    url = f"http://127.0.0.1:{PORT}/"
    subscription = subscriptions.subscriber_subscribe(kind="webhook", endpoint=url)
    example = Example(subscription.secret)
    yield url, subscription.secret, example
    example.stop()


def test_the_example_receiver_verifies_real_deliveries(subscribed, responder):
    url, secret, example = subscribed
    row = SubscriberNotification.objects.get()
    assert notification_attempt(row.pk).status == SubscriberNotification.Status.SENT
    assert Subscriber.objects.get().confirmed_at is not None  # the challenge was echoed

    DestinationFactory(
        audience=audience("responders"), kind=Destination.Kind.WEBHOOK, target=url, secret=secret
    )
    incident = incident_services.incident_declare(
        title="Checkout 502s",
        severity=severity("SEV2"),
        services=[ServiceFactory(slug="checkout")],
        actor=responder,
    )
    notification_services.update_post(
        incident=incident, message="Investigating.", actor=responder, audiences=["responders"]
    )
    deliveries = Delivery.objects.filter(destination__kind=Destination.Kind.WEBHOOK)
    for delivery in deliveries.order_by("created_at"):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        assert outbox.delivery_attempt(delivery.pk).status == Delivery.Status.SENT
    seen = [example.next(), example.next()]
    assert seen == [
        {"type": "incident.declared", "version": 1, "incident": incident.pk, "stage": "detect"},
        {"type": "incident.manual", "version": 1, "incident": incident.pk, "stage": "detect"},
    ]

    # A repeat of a delivered id is dropped; a forged signature is refused (401).
    first = deliveries.order_by("created_at").first()
    payload = outbox.webhook_payload(first)
    again = webhook_channel.send(url=url, secret=secret, message_id=str(first.pk), payload=payload)
    assert again.outcome == Outcome.SENT
    forged = webhook_channel.send(
        url=url, secret=Destination.new_secret(), message_id="forged-1", payload=payload
    )
    assert forged.outcome == Outcome.PERMANENT and "401" in forged.error
    assert example.next() == {"refused": "No matching signature found"}
