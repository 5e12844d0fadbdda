"""Subscriber notifications on the one delivery engine: the breaker per webhook
subscriber, the email channel paused after one SMTP call (a real SMTP server),
Replay (audited), Statuspage's ``component_update`` webhooks, and what ops see."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from common.exceptions import InvalidInput, NotAllowed
from notifications import engine, selectors
from notifications import services as notification_services
from notifications.models import ChannelPause, CircuitBreaker, Destination
from statuspage import services
from statuspage.subscriber_models import Subscriber, SubscriberNotification
from statuspage.subscriber_outbox import (
    SUBSCRIBERS,
    notification_attempt,
    subscriber_notification_replay,
)
from tests.fakes.smtp import SmtpServer
from tests.fakes.webhooks import WebhookReceiver
from tests.statuspage.conftest import publish

pytestmark = pytest.mark.django_db
Status = SubscriberNotification.Status


@pytest.fixture
def receiver(settings):
    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = True
    with WebhookReceiver(secret=Destination.new_secret()) as server:
        yield server


def confirmed(kind: str, address: str, *, secret: str = "", components=()) -> Subscriber:
    subscriber = Subscriber.objects.create(
        kind=kind,
        email=address if kind == "email" else "",
        endpoint=address if kind == "webhook" else "",
        secret=secret,
        confirmed_at=timezone.now(),
    )
    subscriber.components.set(components)
    return subscriber


def due_now(row: SubscriberNotification) -> None:
    SubscriberNotification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())


def reasons(row: SubscriberNotification) -> list[str]:
    return list(row.history.order_by("history_id").values_list("history_change_reason", flat=True))


def test_a_webhook_subscriber_behind_a_500ing_receiver_trips_its_breaker_and_recovers(
    incident, responder, components, receiver
):
    failing = confirmed("webhook", receiver.url, secret=receiver.secret)
    publish(incident, responder, public_title="API errors", components={"api": "major_outage"})
    row = SubscriberNotification.objects.get(subscriber=failing)
    receiver.script = [500] * engine.BREAKER_THRESHOLD

    for _ in range(engine.BREAKER_THRESHOLD):
        due_now(row)
        assert notification_attempt(row.pk).status == Status.FAILED
    key = SUBSCRIBERS.breaker_key(SubscriberNotification.objects.get(pk=row.pk))
    assert key == f"subscriber:{failing.pk}"
    assert engine.breaker_open_until(key) is not None
    assert receiver.script == [] and receiver.received == []  # five calls, all 500

    # Open: the next attempt waits for the breaker without calling the receiver.
    due_now(row)
    waiting = notification_attempt(row.pk)
    assert waiting.status == Status.FAILED and waiting.retry_in > 0
    row.refresh_from_db()
    assert row.last_error == engine.CIRCUIT_OPEN_ERROR
    assert row.attempts == engine.BREAKER_THRESHOLD and receiver.received == []
    # Another subscriber's endpoint has a breaker of its own.
    healthy = confirmed("webhook", receiver.url + "?other", secret=receiver.secret)
    publish(incident, responder, "Still on it.", public_status="identified")
    other = SubscriberNotification.objects.filter(subscriber=healthy).get()
    assert notification_attempt(other.pk).status == Status.SENT

    # The cooldown passes; the half-open probe finds the receiver well again.
    CircuitBreaker.objects.filter(key=key).update(
        opened_until=timezone.now() - timedelta(seconds=1)
    )
    due_now(row)
    assert notification_attempt(row.pk).status == Status.SENT
    assert CircuitBreaker.objects.get(key=key).consecutive_failures == 0
    assert [event["id"] for event in receiver.received].count(str(row.pk)) == 1
    row.refresh_from_db()
    assert row.status == Status.SENT and row.total_attempts == engine.BREAKER_THRESHOLD + 1
    # History: each outcome once; one "circuit open" for the whole wait.
    assert reasons(row).count("circuit open") == 1 and reasons(row)[-1] == "sent"


def test_replay_of_a_dead_subscriber_notification_sends_it_once(
    incident, responder, admin_user, components, receiver
):
    subscriber = confirmed("webhook", receiver.url, secret=receiver.secret)
    publish(incident, responder, public_title="API errors", components={"api": "major_outage"})
    row = SubscriberNotification.objects.get(subscriber=subscriber)
    receiver.script = [400]  # a permanent refusal: dead at once, no retries
    assert notification_attempt(row.pk).status == Status.DEAD
    row.refresh_from_db()
    assert row.last_error.startswith("HTTP 400")

    with pytest.raises(NotAllowed):
        subscriber_notification_replay(notification=row, actor=responder)
    replayed = subscriber_notification_replay(notification=row, actor=admin_user)
    assert replayed.status == Status.PENDING and replayed.attempts == 0
    audit = row.history.order_by("-history_id").first()
    assert audit.history_change_reason == "replayed" and audit.history_user == admin_user

    assert notification_attempt(row.pk).status == Status.SENT
    assert notification_attempt(row.pk).status == Status.SENT  # a duplicate task: nothing
    assert [event["id"] for event in receiver.received] == [str(row.pk)]
    with pytest.raises(InvalidInput):  # a sent one is not replayed
        subscriber_notification_replay(notification=row, actor=admin_user)


def test_smtp_credentials_refused_pause_email_after_one_call_and_resume_sends_each_once(
    incident, responder, admin_user, components, settings, django_capture_on_commit_callbacks
):
    with SmtpServer() as smtp:
        smtp.apply(settings)
        for n in range(20):
            confirmed("email", f"reader{n}@example.test")
        publish(incident, responder, public_title="API errors", components={"api": "major_outage"})
        ids = list(SubscriberNotification.objects.values_list("pk", flat=True))
        assert len(ids) == 20

        outcomes, fallback = engine.attempt_batch(SUBSCRIBERS, ids)
        assert [result.status for _, result in outcomes] == [Status.FAILED]  # the probe
        assert len(fallback) == 19  # given back unsent, to the single path
        for pk in fallback:  # what the batch task does with them: held by the pause
            assert notification_attempt(pk).status == Status.FAILED
        assert len(smtp.connections_tried_auth) == 1
        pause = ChannelPause.objects.get(kind="email")
        assert "SMTP authentication failed" in pause.reason
        statuses = list(SubscriberNotification.objects.values_list("status", flat=True))
        assert set(statuses) == {Status.FAILED} and smtp.messages == []
        assert engine.due(SUBSCRIBERS, now=timezone.now() + timedelta(hours=1)) == []

        smtp.accept_logins = True  # the password is fixed
        with django_capture_on_commit_callbacks(execute=True):
            assert notification_services.channel_resume(kind="email", actor=admin_user) == 20
        assert not ChannelPause.objects.exists()
        outcomes, fallback = engine.attempt_batch(SUBSCRIBERS, ids)
        assert [result.status for _, result in outcomes] == [Status.SENT] * 20
        assert fallback == []
        for pk in ids:  # a repeated task or sweep sends nothing more
            notification_attempt(pk)

    assert set(SubscriberNotification.objects.values_list("status", flat=True)) == {Status.SENT}
    assert sorted(smtp.recipients()) == sorted(f"reader{n}@example.test" for n in range(20))
    assert len(set(smtp.message_ids())) == 20
    assert all(message["List-Unsubscribe"] for message in smtp.messages)


def test_component_changes_reach_webhook_subscribers_of_it_in_statuspage_shape(
    components, receiver
):
    api, dashboard = components["api"], components["dashboard"]
    of_api = confirmed("webhook", receiver.url + "?api", secret=receiver.secret, components=[api])
    of_all = confirmed("webhook", receiver.url + "?all", secret=receiver.secret)
    confirmed("webhook", receiver.url + "?dash", secret=receiver.secret, components=[dashboard])
    confirmed("email", "reader@example.test")  # email subscribers are not told of flips

    services.component_set_status(component=api, status="operational")  # first record
    assert not SubscriberNotification.objects.exists()
    change = services.component_set_status(component=api, status="major_outage")
    rows = list(SubscriberNotification.objects.select_related("subscriber"))
    assert {row.subscriber for row in rows} == {of_api, of_all}
    assert {row.event for row in rows} == {f"component-update:{change.pk}"}

    for row in rows:
        assert notification_attempt(row.pk).status == Status.SENT
    bodies = [event["body"] for event in receiver.received]
    assert len(bodies) == 2
    for body in bodies:
        assert set(body) == {"type", "version", "meta", "page", "component_update", "component"}
        assert (body["type"], body["version"]) == ("component_update", 1)
        assert body["component_update"] == {
            "created_at": body["component_update"]["created_at"],
            "new_status": "major_outage",
            "old_status": "operational",
            "id": str(change.pk),
            "component_id": api.public_id,
        }
        assert body["component"]["id"] == api.public_id
        assert body["component"]["status"] == "major_outage"
        assert body["page"]["status_indicator"] in {"major", "critical"}
        assert "/status/subscriptions/unsubscribe/" in body["meta"]["unsubscribe"]
    # The same status again changes nothing and tells no one.
    assert services.component_set_status(component=api, status="major_outage") is None
    assert SubscriberNotification.objects.count() == 2


def test_pending_subscriber_notifications_count_in_the_outbox_figures(components):
    subscriber = confirmed("email", "late@example.test")
    row = SubscriberNotification.objects.create(
        subscriber=subscriber,
        event="incident-update:x",
        subject="s",
        body="b",
        next_attempt_at=timezone.now(),
    )
    long_ago = timezone.now() - timedelta(minutes=10)
    SubscriberNotification.objects.filter(pk=row.pk).update(created_at=long_ago)
    assert selectors.oldest_pending_created_at() == long_ago
    assert selectors.outbox_by_status()["subscriber"]["pending"] == 1


def test_ops_see_subscriber_notifications_with_their_reason_and_replay_them_in_the_admin(
    admin_user, components, receiver, django_capture_on_commit_callbacks
):
    subscriber = confirmed("webhook", receiver.url, secret=receiver.secret)
    receiver.check_contracts = False  # a hand-written stub payload, not one Keel builds
    row = SubscriberNotification.objects.create(
        subscriber=subscriber,
        event="incident-update:abc",
        subject="API errors: Investigating",
        body="",
        payload={"incident": {"id": "abc"}},
        status=Status.DEAD,
        last_error="HTTP 400 from 127.0.0.1",
        next_attempt_at=timezone.now(),
    )
    client = Client()
    client.force_login(admin_user)
    page = client.get("/admin/statuspage/subscribernotification/?status__exact=dead")
    assert page.status_code == 200
    assert b"HTTP 400 from 127.0.0.1" in page.content and b"incident-update:abc" in page.content

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/statuspage/subscribernotification/",
            {"action": "replay", "_selected_action": [str(row.pk)]},
            follow=True,
        )
    assert b"1 notification(s) replayed." in response.content
    row.refresh_from_db()
    assert row.status == Status.PENDING
    assert row.history.first().history_user == admin_user
    assert notification_attempt(row.pk).status == Status.SENT
    assert [event["id"] for event in receiver.received] == [str(row.pk)]
