"""Exactly once on Slack when an answer is lost: the adapter's decision table, the
announcement row claimed before the post, the per-thread order in the outbox's
claim, the Slack lease, replay, and lookups that page like Slack does. In-process
against the local fake Slack (real HTTP); tests/integration/ runs the same
faults through real worker processes."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import services as incident_services
from notifications import engine, outbox, services
from notifications.channels import slack as slack_channel
from notifications.channels.base import Outcome
from notifications.models import (
    CircuitBreaker,
    Delivery,
    Destination,
    SlackAnnouncement,
    UpdateKind,
)
from notifications.slack.client import LOOKUP_PAGE, SlackChannel, SlackFailure, _metadata
from tests.factories.incidents import severity
from tests.factories.notifications import DestinationFactory, audience
from tests.fakes.slack import Fault

pytestmark = pytest.mark.django_db
Status = Delivery.Status
CHANNEL = "C0INCIDENTS"


@pytest.fixture
def incident(responder):
    return incident_services.incident_declare(
        title="Checkout 502s", severity=severity("SEV3"), actor=responder
    )


@pytest.fixture
def destination(incident):
    """Added after the declare: the first update below posts the announcement."""
    return DestinationFactory(audience=audience("responders"), kind=Destination.Kind.SLACK)


def post(incident, actor, message="Investigating.") -> Delivery:
    update = services.update_post(
        incident=incident, message=message, actor=actor, audiences=["responders"]
    )
    return update.deliveries.get()


def attempt(delivery: Delivery) -> outbox.AttemptResult:
    """Run the next attempt now, as the rescheduled task would when due."""
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    return outbox.delivery_attempt(delivery.pk)


def claimed(delivery: Delivery, *, total_attempts: int) -> Delivery:
    """The delivery as the adapter gets it from a claim, with this many attempts in its life."""
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Status.SENDING,
        attempts=total_attempts,
        total_attempts=total_attempts,
        lease_until=timezone.now() + timedelta(seconds=30),
    )
    return Delivery.objects.select_related("destination", "update__incident__severity").get(
        pk=delivery.pk
    )


def stored_in_slack(fake, *, delivery, part: str, thread_ts: str | None = None) -> str:
    """A message an earlier attempt got into Slack without hearing back."""
    message = fake.handle(
        "chat.postMessage",
        {
            "channel": CHANNEL,
            "text": f"earlier {part}",
            "thread_ts": thread_ts,
            "metadata": _metadata(
                str(delivery.pk), delivery.update.incident_id, part, delivery.destination_id
            ),
        },
    )
    return message["ts"]


def methods(fake) -> list[str]:
    return [call.method for call in fake.calls]


# ---- the adapter's decision table ------------------------------------------


def test_no_earlier_attempt_posts_without_looking(fake_slack, destination, incident, responder):
    delivery = claimed(post(incident, responder), total_attempts=1)

    result = slack_channel.send(delivery)

    assert result.outcome == Outcome.SENT
    assert methods(fake_slack) == ["chat.postMessage", "chat.postMessage"]  # root, reply
    (root,) = fake_slack.roots()
    announcement = SlackAnnouncement.objects.get(incident=incident, destination=destination)
    assert announcement.ts == root["ts"] and announcement.channel_id == CHANNEL
    assert root["metadata"]["event_payload"] == {
        "delivery_id": str(delivery.pk),
        "incident_id": incident.pk,
        "part": "root",
        "destination_id": destination.pk,
    }
    (reply,) = fake_slack.thread(root["ts"])
    assert result.external_id == reply["ts"]


def test_an_unfinished_announcement_is_looked_up_and_edited_when_found(
    fake_slack, destination, incident, responder
):
    first = post(incident, responder, "First.")
    SlackAnnouncement.objects.create(incident=incident, destination=destination, channel_id=CHANNEL)
    root_ts = stored_in_slack(fake_slack, delivery=first, part="root")
    # Another delivery of the same thread, never attempted itself.
    second = claimed(post(incident, responder, "Second."), total_attempts=1)

    result = slack_channel.send(second)

    assert result.outcome == Outcome.SENT
    assert methods(fake_slack) == ["conversations.history", "chat.update", "chat.postMessage"]
    assert [m["ts"] for m in fake_slack.roots()] == [root_ts]
    assert fake_slack.calls_to("chat.update")[0].args["ts"] == root_ts
    assert "Checkout 502s" in fake_slack.roots()[0]["text"]  # edited to the current state
    assert SlackAnnouncement.objects.get().ts == root_ts
    (reply,) = fake_slack.thread(root_ts)
    assert "Second." in reply["text"] and result.external_id == reply["ts"]


def test_an_unfinished_announcement_not_in_slack_is_posted(
    fake_slack, destination, incident, responder
):
    SlackAnnouncement.objects.create(incident=incident, destination=destination, channel_id=CHANNEL)
    delivery = claimed(post(incident, responder), total_attempts=1)

    assert slack_channel.send(delivery).outcome == Outcome.SENT

    assert methods(fake_slack) == ["conversations.history", "chat.postMessage", "chat.postMessage"]
    (root,) = fake_slack.roots()
    assert SlackAnnouncement.objects.get().ts == root["ts"]


def test_a_found_announcement_is_the_declared_delivery_sent(fake_slack, incident, responder):
    destination = DestinationFactory(kind=Destination.Kind.SLACK)
    declared = incident_services.incident_declare(
        title="Login down", severity=severity("SEV3"), actor=responder
    )
    delivery = Delivery.objects.get(update__incident=declared, destination=destination)
    assert delivery.update.kind == UpdateKind.DECLARED
    SlackAnnouncement.objects.create(incident=declared, destination=destination, channel_id=CHANNEL)
    root_ts = stored_in_slack(fake_slack, delivery=delivery, part="root")

    result = slack_channel.send(claimed(delivery, total_attempts=2))

    assert result.outcome == Outcome.SENT and result.external_id == root_ts
    assert len(fake_slack.posted()) == 1  # no second root, no reply
    assert fake_slack.calls_to("chat.update")[0].args["ts"] == root_ts


def test_an_earlier_attempt_makes_the_reply_look_first_found_is_sent(
    fake_slack, destination, incident, responder
):
    attempt(post(incident, responder, "First."))
    delivery = post(incident, responder, "Second.")
    root_ts = SlackAnnouncement.objects.get().ts
    reply_ts = stored_in_slack(fake_slack, delivery=delivery, part="reply", thread_ts=root_ts)
    fake_slack.calls.clear()

    result = slack_channel.send(claimed(delivery, total_attempts=2))

    assert result.outcome == Outcome.SENT and result.external_id == reply_ts
    assert methods(fake_slack) == ["chat.update", "conversations.replies"]
    assert len(fake_slack.thread(root_ts)) == 2


def test_an_earlier_attempt_makes_the_reply_look_first_not_found_posts(
    fake_slack, destination, incident, responder
):
    attempt(post(incident, responder, "First."))
    delivery = post(incident, responder, "Second.")
    fake_slack.calls.clear()

    result = slack_channel.send(claimed(delivery, total_attempts=3))

    assert result.outcome == Outcome.SENT
    assert methods(fake_slack) == ["chat.update", "conversations.replies", "chat.postMessage"]
    root_ts = SlackAnnouncement.objects.get().ts
    assert [m["ts"] for m in fake_slack.thread(root_ts)][-1] == result.external_id


def test_a_first_attempt_of_a_later_update_posts_its_reply_without_looking(
    fake_slack, destination, incident, responder
):
    attempt(post(incident, responder, "First."))
    fake_slack.calls.clear()

    result = slack_channel.send(claimed(post(incident, responder, "Second."), total_attempts=1))

    assert result.outcome == Outcome.SENT
    assert methods(fake_slack) == ["chat.update", "chat.postMessage"]


# ---- the announcement row is claimed before Slack is called -----------------


def test_a_lost_announcement_answer_leaves_a_claim_the_next_update_reconciles(
    fake_slack, destination, incident, responder
):
    fake_slack.fail_next("chat.postMessage", Fault(apply_then_hang=True, hang_seconds=2.5))
    first = post(incident, responder, "First.")

    assert attempt(first).status == Status.FAILED
    announcement = SlackAnnouncement.objects.get()
    assert announcement.ts == "" and announcement.channel_id == CHANNEL
    assert len(fake_slack.roots()) == 1  # Slack has it; Keel does not know

    # Even a later update going first (the order is the claim's job, tested below)
    # finds that root instead of posting a second one.
    second = claimed(post(incident, responder, "Second."), total_attempts=1)
    assert slack_channel.send(second).outcome == Outcome.SENT
    Delivery.objects.filter(pk=second.pk).update(status=Status.SENT, lease_until=None)
    assert attempt(first).status == Status.SENT

    (root,) = fake_slack.roots()
    announcement.refresh_from_db()
    assert announcement.ts == root["ts"]
    assert [c.args["ts"] for c in fake_slack.calls_to("chat.update")] == [root["ts"]] * 2
    texts = [m["text"] for m in fake_slack.thread(root["ts"])]
    assert len(texts) == 2 and "Second." in texts[0] and "First." in texts[1]


# ---- the order of a thread, in the claim ------------------------------------


def test_a_later_update_waits_for_an_earlier_one_in_backoff(
    fake_slack, destination, incident, responder
):
    fake_slack.fail_next("chat.postMessage", Fault(apply_then_hang=True, hang_seconds=2.5))
    first = post(incident, responder, "First.")
    assert attempt(first).status == Status.FAILED
    first.refresh_from_db()
    second = post(incident, responder, "Second.")
    calls = len(fake_slack.calls)
    history_rows = second.history.count()

    waiting = outbox.delivery_attempt(second.pk)

    assert waiting.status == Status.PENDING
    assert len(fake_slack.calls) == calls  # Slack not called
    second.refresh_from_db()
    # Comes back just after the first is due again, not every couple of seconds.
    assert second.next_attempt_at >= first.next_attempt_at
    assert waiting.retry_in >= outbox.SERIALISE_DELAY_SECONDS
    assert second.attempts == 0 and second.history.count() == history_rows  # a wait: no row

    assert attempt(first).status == Status.SENT
    assert attempt(second).status == Status.SENT
    (root,) = fake_slack.roots()
    assert len(fake_slack.thread(root["ts"])) == 2


def test_a_later_update_waits_for_an_earlier_one_whose_worker_died(
    fake_slack, destination, incident, responder
):
    first = post(incident, responder, "First.")
    Delivery.objects.filter(pk=first.pk).update(
        status=Status.SENDING, attempts=1, lease_until=timezone.now() - timedelta(seconds=1)
    )
    second = post(incident, responder, "Second.")

    assert outbox.delivery_attempt(second.pk).status == Status.PENDING
    assert outbox.deliveries_due() == [first.pk]  # the sweeper hands the first one on

    assert attempt(first).status == Status.SENT
    assert attempt(second).status == Status.SENT


def test_a_live_lease_holds_the_thread_even_for_an_older_delivery(
    fake_slack, destination, incident, responder
):
    older = post(incident, responder, "Older, being replayed.")
    newer = post(incident, responder, "Newer.")
    Delivery.objects.filter(pk=newer.pk).update(
        status=Status.SENDING, attempts=1, lease_until=timezone.now() + timedelta(seconds=30)
    )

    result = outbox.delivery_attempt(older.pk)

    assert result.status == Status.PENDING and result.retry_in == outbox.SERIALISE_DELAY_SECONDS
    assert fake_slack.calls == []


def test_finished_deliveries_and_other_threads_do_not_hold_a_thread(
    fake_slack, destination, incident, responder
):
    dead = post(incident, responder, "Could never be sent.")
    Delivery.objects.filter(pk=dead.pk).update(status=Status.DEAD, attempts=8)
    other_incident = incident_services.incident_declare(
        title="Login down", severity=severity("SEV3"), actor=responder
    )
    other_thread = Delivery.objects.get(update__incident=other_incident, destination=destination)
    Delivery.objects.filter(pk=other_thread.pk).update(
        status=Status.FAILED, next_attempt_at=timezone.now() + timedelta(minutes=5)
    )

    assert outbox.delivery_attempt(post(incident, responder, "Now.").pk).status == Status.SENT


def test_a_waiting_delivery_leaves_the_half_open_probe_to_the_one_ahead(
    fake_slack, destination, incident, responder
):
    ahead = post(incident, responder, "First.")
    Delivery.objects.filter(pk=ahead.pk).update(status=Status.FAILED, attempts=5)
    cooled_down = timezone.now() - timedelta(seconds=1)
    CircuitBreaker.objects.create(
        key=outbox.destination_breaker_key(destination),
        consecutive_failures=outbox.BREAKER_THRESHOLD,
        opened_until=cooled_down,
    )
    behind = post(incident, responder, "Second.")

    assert outbox.delivery_attempt(behind.pk).status == Status.PENDING
    assert CircuitBreaker.objects.get().opened_until == cooled_down  # probe still free

    assert attempt(ahead).status == Status.SENT
    assert attempt(behind).status == Status.SENT


def test_slack_claims_hold_a_lease_bounded_by_the_attempt_deadline(
    settings, fake_slack, destination, incident, responder
):
    settings.KEEL_DELIVERY_LEASE_SECONDS = 60
    settings.KEEL_OUTBOUND_TIMEOUT_SECONDS = 2
    delivery = post(incident, responder)

    claimed_delivery, _ = engine.claim(outbox.DELIVERIES, delivery.pk)

    lease = (claimed_delivery.lease_until - claimed_delivery.updated_at).total_seconds()
    expected = outbox.SLACK_ATTEMPT_CALLS * 2 + outbox.LEASE_MARGIN_SECONDS
    assert lease == pytest.approx(expected, abs=1.0) and lease < 60
    assert outbox.lease_seconds(Destination.Kind.WEBHOOK) == 60
    settings.KEEL_DELIVERY_LEASE_SECONDS = 5  # a shorter general lease still wins
    assert outbox.lease_seconds(Destination.Kind.SLACK) == 5


def test_no_slack_call_starts_after_the_attempt_deadline(
    fake_slack, destination, incident, responder
):
    delivery = claimed(post(incident, responder), total_attempts=1)

    result = slack_channel.send(delivery, deadline=time.monotonic() - 0.1)

    assert result.outcome == Outcome.RETRY and "ran out of time" in result.error
    assert fake_slack.calls == []


def test_a_call_near_the_deadline_gets_only_the_time_left(fake_slack):
    slack = SlackChannel(deadline=time.monotonic() + 0.3)
    fake_slack.fail_next("chat.update", Fault(hang_seconds=2))

    with pytest.raises(SlackFailure) as failure:
        slack.update(channel=CHANNEL, ts="1.0", text="x", blocks=[])

    assert failure.value.result.outcome == Outcome.RETRY
    assert slack.client.timeout <= 0.3
    assert slack.timeout == 1  # the configured timeout, cut for this call only


# ---- replay ------------------------------------------------------------------


def test_replay_of_a_stored_then_timed_out_reply_posts_it_once(
    fake_slack, destination, incident, responder
):
    attempt(post(incident, responder, "First."))
    delivery = post(incident, responder, "Stored, answer lost.")
    fake_slack.fail_next("chat.postMessage", Fault(apply_then_hang=True, hang_seconds=2.5))
    assert attempt(delivery).status == Status.FAILED

    replayed = services.delivery_replay(
        delivery=Delivery.objects.get(pk=delivery.pk), actor=responder
    )
    assert replayed.attempts == 0 and replayed.total_attempts == 1
    assert attempt(delivery).status == Status.SENT

    assert len(fake_slack.posted_for_delivery(str(delivery.pk))) == 1
    assert fake_slack.calls_to("conversations.replies")
    delivery.refresh_from_db()
    assert delivery.total_attempts == 2 and delivery.attempts == 1
    assert delivery.external_id == fake_slack.posted_for_delivery(str(delivery.pk))[0]["ts"]


def test_a_replay_of_a_never_attempted_delivery_posts_without_looking(
    fake_slack, destination, incident, responder
):
    attempt(post(incident, responder, "First."))
    delivery = post(incident, responder, "Skipped while disabled.")
    Delivery.objects.filter(pk=delivery.pk).update(status=Status.SKIPPED)
    services.delivery_replay(delivery=delivery, actor=responder)
    fake_slack.calls.clear()

    assert attempt(delivery).status == Status.SENT

    assert methods(fake_slack) == ["chat.update", "chat.postMessage"]


# ---- lookups page like Slack --------------------------------------------------


def test_a_lost_reply_is_found_in_a_thread_of_more_than_200_replies(
    fake_slack, destination, incident, responder
):
    attempt(post(incident, responder, "First."))
    root_ts = SlackAnnouncement.objects.get().ts
    delivery = post(incident, responder, "Lost in a busy thread.")
    for n in range(250):  # the responders talk in the thread meanwhile
        fake_slack.add_message(f"looking at dashboards {n}", thread_ts=root_ts)
    fake_slack.fail_next("chat.postMessage", Fault(apply_then_hang=True, hang_seconds=2.5))
    assert attempt(delivery).status == Status.FAILED
    fake_slack.calls.clear()

    assert attempt(delivery).status == Status.SENT

    lookups = fake_slack.calls_to("conversations.replies")
    assert len(lookups) == 2
    assert [int(call.args["limit"]) for call in lookups] == [LOOKUP_PAGE] * 2
    assert "cursor" not in lookups[0].args and lookups[1].args["cursor"]
    assert len(fake_slack.posted_for_delivery(str(delivery.pk))) == 1
    assert len(fake_slack.thread(root_ts)) == 1 + 250 + 1


def test_a_lost_announcement_is_found_behind_more_than_200_channel_messages(
    fake_slack, destination, incident, responder
):
    fake_slack.fail_next("chat.postMessage", Fault(apply_then_hang=True, hang_seconds=2.5))
    delivery = post(incident, responder)
    assert attempt(delivery).status == Status.FAILED
    for n in range(250):  # the incidents channel is busy meanwhile
        fake_slack.add_message(f"anyone else seeing 502s? {n}")
    fake_slack.calls.clear()

    assert attempt(delivery).status == Status.SENT

    lookups = fake_slack.calls_to("conversations.history")
    assert len(lookups) == 2 and lookups[1].args["cursor"]
    roots = [m for m in fake_slack.roots() if m.get("metadata")]
    assert len(roots) == 1 and SlackAnnouncement.objects.get().ts == roots[0]["ts"]


def test_the_fake_pages_and_refuses_limits_like_slack(fake_slack):
    root = fake_slack.add_message("root")
    for n in range(150):
        fake_slack.add_message(f"channel {n}")
        fake_slack.add_message(f"reply {n}", thread_ts=root["ts"])
    client = SlackChannel().client

    first = client.conversations_history(channel=CHANNEL)
    assert len(first["messages"]) == 100 and first["has_more"]  # Slack's default page
    rest = client.conversations_history(
        channel=CHANNEL, cursor=first["response_metadata"]["next_cursor"]
    )
    assert len(rest["messages"]) == 51 and not rest["has_more"]
    assert rest["response_metadata"]["next_cursor"] == ""
    assert float(first["messages"][0]["ts"]) > float(rest["messages"][0]["ts"])  # newest first
    assert "metadata" not in first["messages"][0]  # only with include_all_metadata

    thread = client.conversations_replies(channel=CHANNEL, ts=root["ts"], limit=100)
    assert thread["messages"][0]["ts"] == root["ts"] and thread["has_more"]  # oldest first

    for method, limit in (("conversations_history", 1000), ("conversations_replies", 1001)):
        response = fake_slack.handle(
            method.replace("_", "."), {"channel": CHANNEL, "ts": root["ts"], "limit": limit}
        )
        assert response == {"ok": False, "error": "invalid_limit"}
