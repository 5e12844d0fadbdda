"""Fan-out through real worker processes with faults injected. Each test ends by
asserting exactly one delivered message per (update, destination)."""

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from incidents import services as incident_services
from notifications.models import Delivery, Destination
from tests.factories.common import api_key
from tests.factories.incidents import severity
from tests.factories.notifications import DestinationFactory, audience
from tests.fakes.slack import Fault
from tests.integration.conftest import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
Status = Delivery.Status


@pytest.fixture
def client_and_incident(responder):
    incident = incident_services.incident_declare(
        title="Payments failing", severity=severity("SEV3"), actor=responder
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key(responder)}")
    return client, incident


@pytest.fixture
def slack_destination(client_and_incident):
    """Added after the incident was declared, so the faults below hit the posted updates."""
    return DestinationFactory(audience=audience("responders"), kind=Destination.Kind.SLACK)


def post_update(client, incident, message: str, **extra) -> dict:
    response = client.post(
        f"/api/v1/incidents/{incident.pk}/updates/",
        {"message": message, "audiences": ["responders"], **extra},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def all_sent(expected: int):
    def check():
        statuses = list(Delivery.objects.values_list("status", flat=True))
        return len(statuses) == expected and all(s == Status.SENT for s in statuses)

    return check


def assert_one_slack_message_per_delivery(fake) -> None:
    for delivery in Delivery.objects.filter(destination__kind=Destination.Kind.SLACK):
        replies = [
            m
            for m in fake.posted_for_delivery(str(delivery.pk))
            if m["metadata"]["event_payload"]["part"] == "reply"
        ]
        assert len(replies) == 1, f"delivery {delivery.pk} posted {len(replies)} replies"
    roots = [m for m in fake.posted() if not m.get("thread_ts")]
    assert len(roots) == 1, f"{len(roots)} announcements for one incident"


def test_every_update_reaches_slack_and_webhooks_exactly_once(
    start_worker, fake_slack_server, receiver, slack_destination, client_and_incident
):
    DestinationFactory(
        audience=audience("responders"),
        kind=Destination.Kind.WEBHOOK,
        target=receiver.url,
        secret=receiver.secret,
    )
    client, incident = client_and_incident
    start_worker()

    for n in range(3):
        post_update(client, incident, f"Update {n}.")

    wait_for(all_sent(6), what="six deliveries sent")
    assert_one_slack_message_per_delivery(fake_slack_server.fake)
    assert len(receiver.received) == 3 and len(receiver.by_id) == 3
    assert receiver.bad_signatures == 0


def test_slack_500_then_200_and_429_with_retry_after(
    start_worker, fake_slack_server, slack_destination, client_and_incident
):
    fake = fake_slack_server.fake
    fake.fail_next("chat.postMessage", Fault(status=500), Fault(status=429, retry_after=1))
    client, incident = client_and_incident
    start_worker()

    post_update(client, incident, "Investigating.")

    wait_for(all_sent(1), what="the delivery to be sent after a 500 and a 429")
    delivery = Delivery.objects.get()
    assert delivery.attempts == 3
    assert_one_slack_message_per_delivery(fake)


def test_the_request_does_not_wait_for_a_hanging_slack(
    start_worker, fake_slack_server, slack_destination, client_and_incident
):
    fake = fake_slack_server.fake
    fake.fail_always("chat.postMessage", Fault(hang_seconds=3), times=2)
    client, incident = client_and_incident
    start_worker()

    body = post_update(client, incident, "Still investigating.")

    # The response came back while Slack was still hanging: nothing was sent yet.
    assert [d["status"] for d in body["deliveries"]] == ["pending"]
    wait_for(all_sent(1), timeout=45, what="the delivery after Slack stopped hanging")
    assert_one_slack_message_per_delivery(fake)


def test_a_worker_killed_mid_send_neither_loses_nor_duplicates(
    start_worker, fake_slack_server, slack_destination, client_and_incident
):
    fake = fake_slack_server.fake
    # Slack stores the announcement, then the connection hangs: the worker is killed meanwhile.
    fake.fail_next("chat.postMessage", Fault(apply_then_hang=True, hang_seconds=30))
    client, incident = client_and_incident
    worker = start_worker()

    post_update(client, incident, "Mitigating.")
    wait_for(lambda: fake.calls_to("chat.postMessage"), what="the send to be in flight")
    worker.kill()
    assert Delivery.objects.get().status == Status.SENDING

    start_worker()

    wait_for(all_sent(1), timeout=45, what="the sweeper to finish the killed send")
    assert Delivery.objects.get().attempts == 2
    assert_one_slack_message_per_delivery(fake)


def test_updates_are_accepted_while_redis_is_down_and_delivered_after(
    start_worker, fake_slack_server, slack_destination, client_and_incident, spare_redis, use_broker
):
    fake = fake_slack_server.fake
    client, incident = client_and_incident
    use_broker(spare_redis.url.rsplit("/", 1)[0] + f"/{settings.TEST_REDIS_DB}")
    start_worker(redis_url=spare_redis.url)

    post_update(client, incident, "Before the outage.")
    wait_for(all_sent(1), what="the first update")

    spare_redis.stop()
    post_update(client, incident, "During the outage.")
    post_update(client, incident, "Still during the outage.")
    assert Delivery.objects.filter(status=Status.PENDING).count() == 2

    spare_redis.start()
    wait_for(all_sent(3), timeout=60, what="the updates posted during the outage")
    assert_one_slack_message_per_delivery(fake)


def test_the_worker_survives_redis_going_away_while_a_send_is_in_flight(
    start_worker, fake_slack_server, slack_destination, client_and_incident, spare_redis, use_broker
):
    """Redis drops while the worker holds an unacknowledged send (Slack is slow to answer):
    the worker reconnects and carries on; it must not exit on its own connection clean-up."""
    fake = fake_slack_server.fake
    fake.fail_next("chat.postMessage", Fault(hang_seconds=3))
    client, incident = client_and_incident
    use_broker(spare_redis.url.rsplit("/", 1)[0] + f"/{settings.TEST_REDIS_DB}")
    worker = start_worker(redis_url=spare_redis.url)

    post_update(client, incident, "Slack is slow to answer this one.")
    wait_for(lambda: fake.calls_to("chat.postMessage"), what="the send to be in flight")
    spare_redis.stop()
    wait_for(
        lambda: "Connection to broker lost" in worker.log_path.read_text(),
        what="the worker to notice that Redis went away",
    )
    spare_redis.start()
    post_update(client, incident, "Posted after Redis came back.")

    wait_for(all_sent(2), timeout=60, what="both updates after Redis came back")
    assert worker.process.poll() is None, f"the worker exited (log: {worker.log_path})"
    assert_one_slack_message_per_delivery(fake)
