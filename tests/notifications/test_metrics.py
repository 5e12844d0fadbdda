"""/metrics follows the delivery engine: deliveries by channel and outcome, the
undelivered backlog and its age, a tripped breaker, a paused channel, updates
written, the worker heartbeat. Real adapters against the fake Slack."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import services as incident_services
from notifications import outbox, services
from notifications.models import Delivery, Destination
from tests.factories.incidents import severity
from tests.factories.notifications import DestinationFactory, audience
from tests.fakes.slack import Fault
from tests.metrics_text import scrape, value

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def ops_network(settings):
    settings.KEEL_OPS_ALLOW_CIDRS = ["127.0.0.1/32"]


@pytest.fixture
def slack_destination(db):
    return DestinationFactory(audience=audience("responders"), kind=Destination.Kind.SLACK)


def declare(responder, title="Checkout 502s"):
    return incident_services.incident_declare(
        title=title, severity=severity("SEV3"), actor=responder
    )


def attempt(delivery: Delivery):
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    return outbox.delivery_attempt(delivery.pk)


def test_a_delivery_counts_pending_then_sent_by_channel_and_the_backlog_empties(
    client, fake_slack, slack_destination, responder
):
    incident = declare(responder)
    delivery = Delivery.objects.get(update__incident=incident, destination=slack_destination)
    Delivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - timedelta(minutes=6))

    before = scrape(client)
    assert value(before, "keel_deliveries_by_channel", channel="slack", status="pending") == 1
    assert value(before, "keel_outbox_backlog", producer="delivery") == 1
    assert value(before, "keel_outbox_oldest_undelivered_age_seconds", producer="delivery") >= 360
    assert value(before, "keel_deliveries_oldest_pending_age_seconds") >= 360
    assert value(before, "keel_updates_created_total", kind="declared") == 1

    assert attempt(delivery).status == Delivery.Status.SENT

    after = scrape(client)
    assert value(after, "keel_deliveries_by_channel", channel="slack", status="sent") == 1
    assert value(after, "keel_deliveries_by_channel", channel="slack", status="pending") == 0
    assert value(after, "keel_deliveries", status="sent") == 1
    assert value(after, "keel_outbox_backlog", producer="delivery") == 0
    assert value(after, "keel_outbox_oldest_undelivered_age_seconds", producer="delivery") == 0


def test_a_failing_destination_trips_its_breaker_and_failed_rows_stay_undelivered(
    client, fake_slack, slack_destination, responder
):
    fake_slack.fail_always("chat.postMessage", Fault(status=503), times=outbox.BREAKER_THRESHOLD)
    deliveries = [
        Delivery.objects.get(
            update__incident=declare(responder, f"Outage {n}"), destination=slack_destination
        )
        for n in range(outbox.BREAKER_THRESHOLD)
    ]
    breaker = f"destination:{slack_destination.pk}"
    for n, delivery in enumerate(deliveries[:-1], start=1):
        attempt(delivery)
        samples = scrape(client)
        assert value(samples, "keel_circuit_breaker_consecutive_failures", breaker=breaker) == n
        assert value(samples, "keel_circuit_breaker_open", breaker=breaker) == 0
    attempt(deliveries[-1])

    samples = scrape(client)
    assert value(samples, "keel_circuit_breaker_open", breaker=breaker) == 1
    failed = outbox.BREAKER_THRESHOLD
    assert value(samples, "keel_deliveries_by_channel", channel="slack", status="failed") == failed
    assert value(samples, "keel_outbox_backlog", producer="delivery") == failed
    # Retrying rows are not pending, but they are not delivered either.
    assert value(samples, "keel_outbox_oldest_undelivered_age_seconds", producer="delivery") > 0


def test_a_refused_token_pauses_the_channel_and_resuming_clears_it(
    client, fake_slack, slack_destination, responder, admin_user
):
    assert value(scrape(client), "keel_channel_paused", channel="slack") == 0
    fake_slack.fail_next("chat.postMessage", Fault(error="token_revoked"))
    incident = declare(responder)
    attempt(Delivery.objects.get(update__incident=incident))

    samples = scrape(client)
    assert value(samples, "keel_channel_paused", channel="slack") == 1
    assert value(samples, "keel_channel_paused", channel="email") == 0

    services.channel_resume(kind=Destination.Kind.SLACK, actor=admin_user)
    assert value(scrape(client), "keel_channel_paused", channel="slack") == 0


def test_updates_are_counted_by_kind(client, responder):
    incident = declare(responder)
    services.update_post(
        incident=incident, message="Looking.", audiences=["responders"], actor=responder
    )
    services.update_post(
        incident=incident, message="Still.", audiences=["responders"], actor=responder
    )
    samples = scrape(client)
    assert value(samples, "keel_updates_created_total", kind="manual") == 2
    assert value(samples, "keel_updates_created_total", kind="declared") == 1


def test_the_worker_heartbeat_age_is_minus_one_until_a_worker_is_seen(client):
    assert value(scrape(client), "keel_worker_heartbeat_age_seconds") == -1
    services.worker_heartbeat_record(hostname="celery@a", at=timezone.now() - timedelta(seconds=90))
    assert 90 <= value(scrape(client), "keel_worker_heartbeat_age_seconds") < 120
