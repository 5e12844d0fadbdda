"""Exactly once on Slack when an answer is lost, through real worker processes and
the local fake Slack: a stored-then-timed-out announcement, a worker SIGKILLed
during the announcement, a replayed reply Slack had stored, and a lost reply in a
thread of more than 200 replies. Each test prints one ``RELIABILITY`` line (run
with ``-s``) — the figures in docs/reliability.md come from them."""

import time

import pytest
from rest_framework.test import APIClient

from incidents import services as incident_services
from notifications.models import Delivery, Destination, SlackAnnouncement
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
    """Added after the declare, so the first posted update makes the announcement."""
    return DestinationFactory(audience=audience("responders"), kind=Destination.Kind.SLACK)


def post_update(client, incident, message: str) -> str:
    response = client.post(
        f"/api/v1/incidents/{incident.pk}/updates/",
        {"message": message, "audiences": ["responders"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    (delivery,) = response.json()["deliveries"]
    return delivery["id"]


def all_sent(expected: int):
    def check():
        statuses = list(Delivery.objects.values_list("status", flat=True))
        return len(statuses) == expected and all(s == Status.SENT for s in statuses)

    return check


def exactly_once(fake) -> dict:
    """Assert one announcement and one reply per delivery, in its thread; return
    the counts for the RELIABILITY line."""
    roots = [m for m in fake.roots() if m.get("metadata")]
    assert len(roots) == 1, f"{len(roots)} announcements for one incident"
    (root,) = roots
    assert SlackAnnouncement.objects.get().ts == root["ts"]
    deliveries = list(Delivery.objects.filter(status=Status.SENT))
    duplicated = len(roots) - 1
    for delivery in deliveries:
        replies = [
            m
            for m in fake.posted_for_delivery(str(delivery.pk))
            if m["metadata"]["event_payload"]["part"] == "reply"
        ]
        assert len(replies) == 1, f"delivery {delivery.pk} posted {len(replies)} replies"
        assert replies[0]["thread_ts"] == root["ts"] and delivery.external_id == replies[0]["ts"]
        duplicated += len(replies) - 1
    return {
        "deliveries": Delivery.objects.count(),
        "lost": Delivery.objects.exclude(status=Status.SENT).count(),
        "duplicated": duplicated,
        "root_edits": len([c for c in fake.calls_to("chat.update") if c.args["ts"] == root["ts"]]),
    }


def report(fault: str, injected: int, counts: dict, recovered_s: float) -> None:
    print(
        f"\nRELIABILITY fault={fault!r} injected={injected} deliveries={counts['deliveries']} "
        f"lost={counts['lost']} duplicated={counts['duplicated']} "
        f"root_edits={counts['root_edits']} recovered_in={recovered_s:.1f}s"
    )


def test_a_stored_then_timed_out_announcement_and_a_second_update_make_one_root(
    start_worker, fake_slack_server, slack_destination, client_and_incident
):
    fake = fake_slack_server.fake
    # Slack stores the announcement, then the answer never comes (timeout is 1 s).
    fake.fail_next("chat.postMessage", Fault(apply_then_hang=True, hang_seconds=3))
    client, incident = client_and_incident
    start_worker()

    first = post_update(client, incident, "Investigating.")
    wait_for(lambda: fake.roots(), what="the announcement to be stored")
    second = post_update(client, incident, "Identified: a bad deploy.")
    faulted = time.monotonic()

    wait_for(all_sent(2), timeout=60, what="both updates to be sent")
    recovered = time.monotonic() - faulted
    counts = exactly_once(fake)
    (root,) = fake.roots()
    # The second update did not post a root of its own: it edited the one Slack had.
    assert counts["root_edits"] >= 1
    texts = [m["text"] for m in fake.thread(root["ts"])]
    assert "Investigating." in texts[0] and "Identified: a bad deploy." in texts[1]
    assert Delivery.objects.get(pk=first).total_attempts == 2
    assert Delivery.objects.get(pk=second).total_attempts == 1
    report("announcement stored, answer lost (timeout)", 1, counts, recovered)


def test_a_worker_killed_during_the_announcement_then_a_second_update_make_one_root(
    start_worker, fake_slack_server, slack_destination, client_and_incident
):
    fake = fake_slack_server.fake
    fake.fail_next("chat.postMessage", Fault(apply_then_hang=True, hang_seconds=30))
    client, incident = client_and_incident
    # A general lease of a minute: only the Slack lease (4 calls x 1 s + 1 s) may
    # hold the thread once the worker is gone.
    env = {"KEEL_DELIVERY_LEASE_SECONDS": "60"}
    worker = start_worker(env=env)

    first = post_update(client, incident, "Mitigating.")
    wait_for(lambda: fake.roots(), what="the announcement to be in flight")
    worker.kill()
    killed = time.monotonic()
    held = Delivery.objects.get(pk=first)
    assert held.status == Status.SENDING
    assert (held.lease_until - held.updated_at).total_seconds() <= 5.5
    post_update(client, incident, "Rolled back.")

    start_worker(env=env)

    wait_for(all_sent(2), timeout=60, what="the sweeper to finish the killed send and the next")
    recovered = time.monotonic() - killed
    counts = exactly_once(fake)
    assert counts["root_edits"] >= 1
    assert Delivery.objects.get(pk=first).total_attempts == 2
    report("worker SIGKILLed during the announcement", 1, counts, recovered)


def test_replay_of_a_stored_then_timed_out_reply_yields_one_reply(
    start_worker, fake_slack_server, slack_destination, client_and_incident
):
    fake = fake_slack_server.fake
    client, incident = client_and_incident
    start_worker()
    post_update(client, incident, "Investigating.")
    wait_for(all_sent(1), what="the first update")

    # The reply is stored but its answer is lost; the retry's lookup is refused for
    # good (a permanent Slack error), so the delivery is dead until someone replays.
    fake.fail_next("chat.postMessage", Fault(apply_then_hang=True, hang_seconds=3))
    fake.fail_next("conversations.replies", Fault(error="invalid_arguments"))
    lost = post_update(client, incident, "Stored, answer lost.")
    wait_for(
        lambda: Delivery.objects.filter(pk=lost, status=Status.DEAD).exists(),
        timeout=60,
        what="the delivery to be dead",
    )
    assert len(fake.posted_for_delivery(lost)) == 1  # Slack has it already

    # A message refused for good is replayed only once its destination was looked at
    # (the Replay refusal says so): an admin checks the channel and saves it.
    refused = client.post(f"/api/v1/incidents/{incident.pk}/deliveries/{lost}/replay/")
    assert refused.status_code == 400 and refused.json()["code"] == "never_deliverable"
    slack_destination.refresh_from_db()
    slack_destination.save()
    response = client.post(f"/api/v1/incidents/{incident.pk}/deliveries/{lost}/replay/")
    assert response.status_code == 200, response.content
    replayed = time.monotonic()

    wait_for(all_sent(2), timeout=60, what="the replayed delivery")
    recovered = time.monotonic() - replayed
    counts = exactly_once(fake)
    delivery = Delivery.objects.get(pk=lost)
    assert delivery.attempts == 1 and delivery.total_attempts == 3
    assert [h.history_change_reason for h in delivery.history.order_by("history_date")][-3:] == [
        "replayed",
        "attempt 1",
        "sent",
    ]
    report("reply stored, answer lost, then replayed", 1, counts, recovered)


def test_a_lost_reply_is_found_in_a_thread_of_more_than_200_replies(
    start_worker, fake_slack_server, slack_destination, client_and_incident
):
    fake = fake_slack_server.fake
    client, incident = client_and_incident
    start_worker()
    post_update(client, incident, "Investigating.")
    wait_for(all_sent(1), what="the first update")
    (root,) = fake.roots()
    for n in range(250):  # the responders talk in the thread
        fake.add_message(f"looking at dashboards {n}", thread_ts=root["ts"])

    fake.fail_next("chat.postMessage", Fault(apply_then_hang=True, hang_seconds=3))
    lost = post_update(client, incident, "Lost in a busy thread.")
    faulted = time.monotonic()

    wait_for(all_sent(2), timeout=60, what="the lost reply to be reconciled")
    recovered = time.monotonic() - faulted
    counts = exactly_once(fake)
    lookups = fake.calls_to("conversations.replies")
    assert len(lookups) >= 2 and any(call.args.get("cursor") for call in lookups)
    assert all(int(call.args["limit"]) <= 999 for call in lookups)
    assert Delivery.objects.get(pk=lost).total_attempts == 2
    report("reply stored, answer lost, in a thread of 251 replies", 1, counts, recovered)
