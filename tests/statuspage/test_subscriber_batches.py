"""The subscriber fan-out's batches (``notifications.batch``) against a real SMTP
server (aiosmtpd) and a real webhook receiver: chunk boundaries, one SMTP session
per send thread, outcomes recorded while the batch still runs, and a channel
pause or a breaker that trips in the middle of a batch."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications import batch, engine
from notifications import services as notification_services
from notifications.channels import email as email_channel
from notifications.channels.email_session import Session
from notifications.models import ChannelPause, CircuitBreaker, Destination
from statuspage import fanout
from statuspage.subscriber_models import Subscriber, SubscriberNotification
from statuspage.subscriber_outbox import SUBSCRIBERS, notification_attempt
from tests.fakes.smtp import SmtpServer
from tests.fakes.webhooks import WebhookReceiver
from tests.statuspage.conftest import publish

pytestmark = pytest.mark.django_db
Status = SubscriberNotification.Status


def email_subscribers(count: int) -> list[str]:
    addresses = [f"reader{n}@example.test" for n in range(count)]
    Subscriber.objects.bulk_create(
        Subscriber(kind="email", email=address, confirmed_at=timezone.now())
        for address in addresses
    )
    return addresses


def published_ids(incident, responder) -> list[str]:
    publish(incident, responder, public_title="API errors", components={"api": "major_outage"})
    return [str(pk) for pk in SubscriberNotification.objects.values_list("pk", flat=True)]


def each_once(smtp: SmtpServer, addresses: list[str]) -> None:
    assert sorted(smtp.recipients()) == sorted(addresses)
    assert len(set(smtp.message_ids())) == len(addresses)


def when_data(smtp: SmtpServer, answer):
    """Drive the fake: ``answer(n)`` (n = DATA commands so far) is None to accept
    the message as the server normally does, or the SMTP reply to give instead."""
    handler = smtp.controller.handler
    accept = handler.handle_DATA
    counter = {"n": 0}
    lock = threading.Lock()

    async def handle_DATA(server, session, envelope):
        with lock:
            counter["n"] += 1
            reply = answer(counter["n"])
        if reply is None:
            return await accept(server, session, envelope)
        return reply

    handler.handle_DATA = handle_DATA
    return counter


@pytest.mark.parametrize(
    ("count", "sizes"),
    [(0, []), (1, [1]), (50, [50]), (51, [50, 1]), (120, [50, 50, 20])],
)
def test_a_fan_out_is_published_in_tasks_of_at_most_one_batch(count, sizes):
    ids = [str(uuid.uuid4()) for _ in range(count)]
    messages = SUBSCRIBERS.send_messages(ids)
    assert [len(args[0]) for _task, args in messages] == sizes
    assert [pk for _task, args in messages for pk in args[0]] == ids  # none lost, none twice
    assert engine.BATCH_SIZE == 50


def test_a_batch_sends_its_email_over_one_smtp_session_per_thread(
    incident, responder, components, settings, monkeypatch
):
    monkeypatch.setattr(engine, "SEND_THREADS", 2)
    with SmtpServer() as smtp:
        smtp.apply(settings)
        smtp.accept_logins = True
        addresses = email_subscribers(30)
        ids = published_ids(incident, responder)

        outcomes, fallback = engine.attempt_batch(SUBSCRIBERS, ids)

        assert [result.status for _, result in outcomes] == [Status.SENT] * 30 and fallback == []
        # The probe's thread and two send threads: three connections, not thirty.
        assert len(smtp.connections_tried_auth) <= 3
        each_once(smtp, addresses)
    for row in SubscriberNotification.objects.all():
        assert row.status == Status.SENT and row.attempts == 1
        assert row.external_id == email_channel.message_id_for(str(row.pk))
        assert row.history.first().history_change_reason == "sent"


def test_a_session_reconnects_after_a_failure_and_keeps_its_connection_otherwise(settings):
    with SmtpServer() as smtp:
        smtp.apply(settings)
        smtp.accept_logins = True
        replies = when_data(smtp, lambda n: "451 4.3.0 Try again later" if n == 2 else None)
        session = Session()
        results = [
            email_channel.send(
                recipients=[f"r{n}@example.test"],
                subject="s",
                body="b",
                delivery_id=f"d{n}",
                session=session,
            )
            for n in range(4)
        ]
        session.close()
        assert [result.outcome for result in results] == ["sent", "retry", "sent", "sent"]
        assert replies["n"] == 4
        # One connection for the first two messages, a fresh one after the 451.
        assert session.connections == 2 and len(smtp.connections_tried_auth) == 2
        assert smtp.recipients() == ["r0@example.test", "r2@example.test", "r3@example.test"]


def test_outcomes_are_recorded_while_the_rest_of_the_batch_still_waits(
    incident, responder, components, settings, monkeypatch
):
    """A killed worker must not lose what it had finished: the fast answers are
    written while the slow ones are still in flight (a worker killed then loses
    only the outcomes of the sends still waiting)."""
    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = True
    settings.KEEL_OUTBOUND_TIMEOUT_SECONDS = 10  # the slow answers are slow, not lost
    settings.KEEL_OUTBOUND_DEADLINE_SECONDS = 10
    with WebhookReceiver(secret=Destination.new_secret()) as receiver:
        for n in range(6):
            Subscriber.objects.create(
                kind="webhook",
                endpoint=f"{receiver.url}/{n}",
                secret=receiver.secret,
                confirmed_at=timezone.now(),
            )
        ids = published_ids(incident, responder)
        receiver.script = [200, 200, 200, 200, 2.0, 2.0]
        seen_while_sending = []

        def record_and_look(producer, finished):
            outcomes = original(producer, finished)
            seen_while_sending.append(
                sorted(SubscriberNotification.objects.values_list("status", flat=True))
            )
            return outcomes

        original = batch._record
        monkeypatch.setattr(batch, "_record", record_and_look)
        outcomes, fallback = engine.attempt_batch(SUBSCRIBERS, ids)

    assert [result.status for _, result in outcomes] == [Status.SENT] * 6 and fallback == []
    # The first write came while the two slow ones were still leased (in flight).
    first, last = seen_while_sending[0], seen_while_sending[-1]
    assert first.count(Status.SENDING) >= 2 and first.count(Status.SENT) >= 1
    assert last == [Status.SENT] * 6
    assert sorted(event["id"] for event in receiver.received) == sorted(ids)


def test_credentials_refused_mid_batch_stop_it_and_resume_sends_each_once(
    incident,
    responder,
    admin_user,
    components,
    settings,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    """The password is rotated while a batch runs: the probe's connection had
    logged in, every new one is refused. The batch stops email at the first
    refusal (at most one refused login per send thread), gives back what it had
    not started, and Resume delivers every message exactly once."""
    monkeypatch.setattr(engine, "SEND_THREADS", 4)
    with SmtpServer() as smtp:
        smtp.apply(settings)
        smtp.accept_logins = True

        def rotate_after_first(n):
            if n == 1:
                smtp.accept_logins = False
            return None

        when_data(smtp, rotate_after_first)
        addresses = email_subscribers(20)
        ids = published_ids(incident, responder)

        outcomes, fallback = engine.attempt_batch(SUBSCRIBERS, ids)

        assert ChannelPause.objects.filter(kind="email").exists()
        refused = [pk for pk, result in outcomes if result.status == Status.FAILED]
        sent_first = [pk for pk, result in outcomes if result.status == Status.SENT]
        assert 1 <= len(refused) <= 4 and len(sent_first) >= 1
        assert len(smtp.connections_tried_auth) <= 1 + 4
        assert sorted(fallback) == sorted(set(ids) - {str(pk) for pk, _ in outcomes})
        for pk in fallback:  # what the batch task does with them: held by the pause
            assert notification_attempt(pk).status == Status.FAILED
        statuses = set(SubscriberNotification.objects.values_list("status", flat=True))
        assert Status.DEAD not in statuses and Status.SENDING not in statuses
        assert len(smtp.messages) == len(sent_first)

        smtp.accept_logins = True
        with django_capture_on_commit_callbacks(execute=True):
            notification_services.channel_resume(kind="email", actor=admin_user)
        outcomes, fallback = engine.attempt_batch(SUBSCRIBERS, ids)
        assert {result.status for _, result in outcomes} == {Status.SENT} and fallback == []
        assert len(outcomes) == 20 - len(sent_first)
        each_once(smtp, addresses)
    assert set(SubscriberNotification.objects.values_list("status", flat=True)) == {Status.SENT}


def test_a_mail_server_failing_mid_batch_trips_the_breaker_and_the_rest_waits(
    incident, responder, components, settings, monkeypatch
):
    """After the probe, the server answers 451 to everything: the batch stops after
    ``BREAKER_THRESHOLD`` failures (plus what other threads had in flight), the
    breaker opens, nothing is dead, and once the server and the breaker recover
    each message arrives once."""
    monkeypatch.setattr(engine, "SEND_THREADS", 2)
    failing = {"on": True}
    with SmtpServer() as smtp:
        smtp.apply(settings)
        smtp.accept_logins = True
        replies = when_data(
            smtp, lambda n: "451 4.3.0 Try again later" if n > 1 and failing["on"] else None
        )
        addresses = email_subscribers(20)
        ids = published_ids(incident, responder)

        outcomes, fallback = engine.attempt_batch(SUBSCRIBERS, ids)

        failed = [pk for pk, result in outcomes if result.status == Status.FAILED]
        assert engine.BREAKER_THRESHOLD <= len(failed) <= engine.BREAKER_THRESHOLD + 1
        assert replies["n"] == 1 + len(failed)  # nothing sent after the stop
        assert engine.breaker_open_until(email_channel.BREAKER_KEY) is not None
        for pk in fallback:  # given back unsent: they wait for the breaker, no call made
            assert notification_attempt(pk).status == Status.FAILED
        assert replies["n"] == 1 + len(failed)
        waiting = SubscriberNotification.objects.exclude(status=Status.SENT)
        assert waiting.count() == 19 and not waiting.filter(status=Status.DEAD).exists()

        failing["on"] = False  # the server recovers; the cooldown passes
        CircuitBreaker.objects.filter(key=email_channel.BREAKER_KEY).update(
            opened_until=timezone.now() - timedelta(seconds=1)
        )
        SubscriberNotification.objects.update(next_attempt_at=timezone.now())
        # A breaker with failures on record keeps its end off the batched path: the
        # single path's half-open probe goes first, then the rest.
        outcomes, fallback = engine.attempt_batch(SUBSCRIBERS, ids)
        assert outcomes == [] and len(fallback) == 19
        assert [notification_attempt(pk).status for pk in fallback] == [Status.SENT] * 19
        each_once(smtp, addresses)


def test_the_fan_out_writes_one_row_per_subscriber_in_one_statement_and_once(
    django_assert_max_num_queries,
):
    email_subscribers(30)
    Subscriber.objects.filter(email="reader0@example.test").update(unsubscribed_at=timezone.now())
    audience = Subscriber.objects.filter(unsubscribed_at__isnull=True)
    payload = {"incident": {"name": "API errors", "body": "Line one\nLine 'two' \\ três"}}

    body = "B\n'ody'"
    with django_assert_max_num_queries(1):
        ids = fanout.notifications_write(
            audience, event="incident-update:x1", subject="API errors", body=body, payload=payload
        )
    again = fanout.notifications_write(
        audience, event="incident-update:x1", subject="other", body="other", payload={}
    )

    assert len(ids) == 29 and again == []  # once per (subscriber, event)
    rows = list(SubscriberNotification.objects.select_related("subscriber"))
    assert sorted(str(row.pk) for row in rows) == sorted(str(pk) for pk in ids)
    expected = {f"reader{n}@example.test" for n in range(1, 30)}
    assert {row.subscriber.email for row in rows} == expected
    for row in rows:
        assert (row.event, row.subject, row.body) == ("incident-update:x1", "API errors", body)
        assert row.payload == payload and row.status == Status.PENDING
        assert row.attempts == row.total_attempts == 0 and row.lease_until is None
        assert row.next_attempt_at <= timezone.now() and row.created_at == row.updated_at
    assert engine.due(SUBSCRIBERS, now=timezone.now() + timedelta(minutes=1)) != []
