"""/metrics follows status page subscribers: the backlog of notifications not yet
delivered, a failing subscriber's breaker, the confirmed subscribers."""

import pytest
from django.utils import timezone

from notifications.models import Destination
from statuspage.subscriber_models import Subscriber, SubscriberNotification
from statuspage.subscriber_outbox import notification_attempt
from tests.fakes.webhooks import WebhookReceiver
from tests.metrics_text import scrape, value
from tests.statuspage.conftest import publish

pytestmark = pytest.mark.django_db
Status = SubscriberNotification.Status


@pytest.fixture(autouse=True)
def ops_network(settings):
    settings.KEEL_OPS_ALLOW_CIDRS = ["127.0.0.1/32"]


@pytest.fixture
def receiver(settings):
    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = True
    settings.KEEL_OUTBOUND_TIMEOUT_SECONDS = 1
    with WebhookReceiver(secret=Destination.new_secret()) as server:
        yield server


def test_the_subscriber_backlog_grows_while_a_webhook_fails_and_empties_once_sent(
    client, incident, responder, components, receiver
):
    subscriber = Subscriber.objects.create(
        kind="webhook", endpoint=receiver.url, secret=receiver.secret, confirmed_at=timezone.now()
    )
    publish(incident, responder, public_title="API errors", components={"api": "major_outage"})
    row = SubscriberNotification.objects.get(subscriber=subscriber)

    samples = scrape(client)
    assert value(samples, "keel_outbox_backlog", producer="subscriber") == 1
    assert value(samples, "keel_outbox_messages", producer="subscriber", status="pending") == 1
    assert value(samples, "keel_statuspage_subscribers", kind="webhook") == 1

    receiver.script = [500]
    assert notification_attempt(row.pk).status == Status.FAILED
    samples = scrape(client)
    assert value(samples, "keel_outbox_backlog", producer="subscriber") == 1
    breaker = f"subscriber:{subscriber.pk}"
    assert value(samples, "keel_circuit_breaker_consecutive_failures", breaker=breaker) == 1

    SubscriberNotification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert notification_attempt(row.pk).status == Status.SENT
    samples = scrape(client)
    assert value(samples, "keel_outbox_backlog", producer="subscriber") == 0
    assert value(samples, "keel_outbox_messages", producer="subscriber", status="sent") == 1
    assert ("keel_circuit_breaker_open", frozenset({("breaker", breaker)})) not in samples
