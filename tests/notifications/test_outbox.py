"""The outbox engine in-process: adapters against the fake Slack and a local
webhook receiver, every fault classified, exactly one message at the end."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from incidents import services as incident_services
from notifications import engine, outbox, services
from notifications.models import ChannelPause, CircuitBreaker, Delivery, Destination
from tests.factories.incidents import ServiceFactory, severity
from tests.factories.notifications import DestinationFactory, audience
from tests.fakes.slack import Fault

pytestmark = pytest.mark.django_db
Status = Delivery.Status


@pytest.fixture
def incident(responder):
    return incident_services.incident_declare(
        title="Checkout 502s",
        severity=severity("SEV3"),
        services=[ServiceFactory(slug="checkout")],
        actor=responder,
    )


@pytest.fixture
def slack_destination(incident):
    """Added after the incident was declared: the announcement is posted by the
    first update these tests send (a declared delivery still pending would hold
    the thread for itself; see the ordering tests)."""
    return DestinationFactory(audience=audience("responders"), kind=Destination.Kind.SLACK)


def post(incident, actor, message="Investigating elevated errors.", **kwargs):
    kwargs.setdefault("audiences", ["responders"])
    return services.update_post(incident=incident, message=message, actor=actor, **kwargs)


def attempt(delivery: Delivery) -> outbox.AttemptResult:
    """Run the next attempt now, as the rescheduled task would when due."""
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    return outbox.delivery_attempt(delivery.pk)


def only_delivery(update) -> Delivery:
    (delivery,) = update.deliveries.all()
    return delivery


def test_first_update_posts_the_announcement_and_a_thread_reply(
    fake_slack, slack_destination, incident, responder
):
    delivery = only_delivery(post(incident, responder))

    assert attempt(delivery).status == Status.SENT

    root, reply = fake_slack.posted()
    assert "Checkout 502s" in root["text"] and "SEV3" in root["text"]
    assert reply["thread_ts"] == root["ts"]
    assert "Investigating elevated errors." in reply["text"]
    assert reply["metadata"]["event_payload"]["delivery_id"] == str(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.external_id == reply["ts"] and delivery.sent_at is not None


def test_later_updates_edit_the_announcement_in_place(
    fake_slack, slack_destination, incident, responder
):
    attempt(only_delivery(post(incident, responder)))
    incident_services.incident_move(incident=incident, to="judge", actor=responder)
    moved = Delivery.objects.get(update__kind="stage", destination=slack_destination)
    rolling_back = only_delivery(post(incident, responder, "Rolling back."))

    # The thread goes in the order the updates were written: the stage change first.
    assert attempt(rolling_back).status == Status.PENDING
    assert attempt(moved).status == Status.SENT
    assert attempt(rolling_back).status == Status.SENT

    (root,) = fake_slack.roots()
    assert [call.args["ts"] for call in fake_slack.calls_to("chat.update")] == [root["ts"]] * 2
    assert "Judge" in root["text"]
    replies = fake_slack.thread(root["ts"])
    assert len(replies) == 3 and replies[-1]["text"].startswith("[SEV3]")
    assert "Rolling back." in replies[-1]["text"]
    assert len(fake_slack.calls_to("chat.postMessage")) == 4


def test_slack_500_then_200_is_retried_with_backoff_and_posts_once(
    fake_slack, slack_destination, incident, responder
):
    fake_slack.fail_next("chat.postMessage", Fault(status=500))
    delivery = only_delivery(post(incident, responder))

    first = attempt(delivery)
    assert first.status == Status.FAILED and first.retry_in > 0
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("Slack") and delivery.next_attempt_at > timezone.now()

    assert attempt(delivery).status == Status.SENT
    assert len(fake_slack.posted_for_delivery(str(delivery.pk))) == 2  # root + reply, once each
    delivery.refresh_from_db()
    assert delivery.attempts == 2


def test_rate_limit_reschedules_after_retry_after(
    fake_slack, slack_destination, incident, responder
):
    fake_slack.fail_next("chat.postMessage", Fault(status=429, retry_after=7))
    delivery = only_delivery(post(incident, responder))

    result = attempt(delivery)

    assert result.status == Status.FAILED and result.retry_in >= 7
    assert attempt(delivery).status == Status.SENT


def test_a_timeout_after_slack_posted_is_reconciled_not_reposted(
    fake_slack, slack_destination, incident, responder
):
    # Slack stores the reply, but the answer never arrives within the client timeout.
    attempt(only_delivery(post(incident, responder, "First.")))
    delivery = only_delivery(post(incident, responder, "Second."))
    fake_slack.fail_next("chat.postMessage", Fault(apply_then_hang=True, hang_seconds=2.5))

    assert attempt(delivery).status == Status.FAILED
    assert attempt(delivery).status == Status.SENT

    replies = [m for m in fake_slack.posted() if "Second." in m["text"]]
    assert len(replies) == 1
    delivery.refresh_from_db()
    assert delivery.external_id == replies[0]["ts"]
    assert fake_slack.calls_to("conversations.replies")


def test_a_lost_announcement_is_found_by_its_metadata(
    fake_slack, slack_destination, incident, responder
):
    fake_slack.fail_next("chat.postMessage", Fault(apply_then_hang=True, hang_seconds=2.5))
    delivery = only_delivery(post(incident, responder))

    assert attempt(delivery).status == Status.FAILED
    assert attempt(delivery).status == Status.SENT

    roots = [m for m in fake_slack.posted() if not m.get("thread_ts")]
    assert len(roots) == 1
    assert fake_slack.calls_to("conversations.history")


def test_channel_not_found_disables_that_destination_only(
    fake_slack, slack_destination, incident, responder
):
    gone = DestinationFactory(audience=audience("responders"), target="C0ARCHIVED")
    update = post(incident, responder)
    by_destination = {d.destination_id: d for d in update.deliveries.all()}

    assert attempt(by_destination[gone.pk]).status == Status.DEAD
    assert attempt(by_destination[slack_destination.pk]).status == Status.SENT
    gone.refresh_from_db()
    assert not gone.enabled and "channel_not_found" in gone.disabled_reason
    next_update = post(incident, responder, "Later.")
    skipped = next_update.deliveries.get(destination=gone)
    assert skipped.status == Status.SKIPPED


def test_revoked_token_pauses_slack_as_a_whole_until_resumed(
    fake_slack, slack_destination, incident, responder, admin_user
):
    fake_slack.fail_next("chat.postMessage", Fault(error="token_revoked"))
    delivery = only_delivery(post(incident, responder))

    assert attempt(delivery).status == Status.FAILED
    pause = ChannelPause.objects.get(kind=Destination.Kind.SLACK)
    assert "token_revoked" in pause.reason
    held = only_delivery(post(incident, responder, "Held back."))
    assert attempt(held).status == Status.FAILED
    assert outbox.deliveries_due(now=timezone.now() + timedelta(hours=1)) == []

    assert services.channel_resume(kind=Destination.Kind.SLACK, actor=admin_user) == 2
    resumed = Delivery.history.filter(history_change_reason="channel resumed")
    assert resumed.count() == 2 and {r.history_user for r in resumed} == {admin_user}
    assert attempt(delivery).status == Status.SENT
    assert attempt(held).status == Status.SENT


def test_missing_token_pauses_slack_visibly(settings, slack_destination, incident, responder):
    settings.SLACK_BOT_TOKEN = None
    delivery = only_delivery(post(incident, responder))

    assert attempt(delivery).status == Status.FAILED
    assert "SLACK_BOT_TOKEN" in ChannelPause.objects.get(kind="slack").reason


def test_circuit_opens_after_repeated_failures_and_closes_after_recovery(
    fake_slack, slack_destination, responder
):
    fake_slack.fail_always("chat.postMessage", Fault(status=503), times=outbox.BREAKER_THRESHOLD)
    # One incident each (the breaker is per destination): updates of one incident
    # would wait for each other in their thread instead of reaching Slack.
    deliveries = [
        Delivery.objects.get(
            update__incident=incident_services.incident_declare(
                title=f"Outage {n}", severity=severity("SEV3"), actor=responder
            ),
            destination=slack_destination,
        )
        for n in range(outbox.BREAKER_THRESHOLD + 1)
    ]
    for delivery in deliveries[: outbox.BREAKER_THRESHOLD]:
        assert attempt(delivery).status == Status.FAILED
    calls_before = len(fake_slack.calls_to("chat.postMessage"))

    blocked = attempt(deliveries[-1])

    assert blocked.status == Status.FAILED and blocked.retry_in > 0
    assert len(fake_slack.calls_to("chat.postMessage")) == calls_before  # Slack not called
    assert outbox.breaker_open_until(slack_destination.pk) is not None

    CircuitBreaker.objects.update(opened_until=timezone.now() - timedelta(seconds=1))
    assert attempt(deliveries[-1]).status == Status.SENT  # the half-open probe succeeds
    breaker = CircuitBreaker.objects.get()
    assert breaker.consecutive_failures == 0 and breaker.opened_until is None


def test_after_max_attempts_the_delivery_is_dead_and_replayable(
    fake_slack, slack_destination, incident, responder
):
    fake_slack.fail_always("chat.postMessage", Fault(status=500))
    delivery = only_delivery(post(incident, responder))
    for _ in range(outbox.MAX_ATTEMPTS):
        CircuitBreaker.objects.all().delete()
        result = attempt(delivery)
    assert result.status == Status.DEAD

    fake_slack.clear_faults()
    replayed = services.delivery_replay(delivery=delivery, actor=responder)
    assert replayed.status == Status.PENDING and replayed.attempts == 0
    assert replayed.history.first().history_change_reason == "replayed"
    assert replayed.history.first().history_user == responder
    CircuitBreaker.objects.all().delete()
    assert attempt(delivery).status == Status.SENT


def test_duplicate_tasks_do_nothing_once_sent(fake_slack, slack_destination, incident, responder):
    delivery = only_delivery(post(incident, responder))
    attempt(delivery)

    assert outbox.delivery_attempt(delivery.pk).status == Status.SENT
    assert len(fake_slack.calls_to("chat.postMessage")) == 2


def test_a_leased_delivery_is_left_to_its_worker(slack_destination, incident, responder):
    delivery = only_delivery(post(incident, responder))
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Status.SENDING, lease_until=timezone.now() + timedelta(seconds=30)
    )

    assert outbox.delivery_attempt(delivery.pk).status == Status.SENDING
    assert outbox.deliveries_due() == []
    expired = timezone.now() - timedelta(seconds=1)
    Delivery.objects.filter(pk=delivery.pk).update(lease_until=expired)
    assert outbox.deliveries_due() == [delivery.pk]


def test_webhooks_are_signed_and_carry_a_stable_id(webhook_receiver, incident, responder):
    DestinationFactory(
        audience=audience("responders"),
        kind=Destination.Kind.WEBHOOK,
        target=webhook_receiver.url,
        secret=webhook_receiver.secret,
    )
    webhook_receiver.script = [500]
    delivery = only_delivery(post(incident, responder))

    assert attempt(delivery).status == Status.FAILED
    assert attempt(delivery).status == Status.SENT

    assert webhook_receiver.bad_signatures == 0
    (event,) = webhook_receiver.received
    assert event["id"] == str(delivery.pk)
    assert event["body"]["type"] == "incident.manual"
    assert event["body"]["data"]["incident"]["id"] == incident.pk


def test_webhook_gone_and_rate_limited(webhook_receiver, incident, responder):
    destination = DestinationFactory(
        audience=audience("responders"),
        kind=Destination.Kind.WEBHOOK,
        target=webhook_receiver.url,
        secret=webhook_receiver.secret,
    )
    webhook_receiver.script = [429, 410]
    delivery = only_delivery(post(incident, responder))

    limited = attempt(delivery)
    assert limited.status == Status.FAILED and limited.retry_in >= 3
    assert attempt(delivery).status == Status.DEAD
    destination.refresh_from_db()
    assert not destination.enabled


def test_webhook_to_a_private_address_is_refused_without_the_admin_setting(
    settings, incident, responder
):
    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = False
    DestinationFactory(
        audience=audience("responders"),
        kind=Destination.Kind.WEBHOOK,
        target="http://127.0.0.1:9/hook",
    )
    delivery = only_delivery(post(incident, responder))

    assert attempt(delivery).status == Status.DEAD
    delivery.refresh_from_db()
    assert "non-public address" in delivery.last_error


def test_email_goes_out_with_a_stable_message_id(incident, responder):
    DestinationFactory(
        audience=audience("cs"), kind=Destination.Kind.EMAIL, target="cs@example.test, lead@x.test"
    )
    delivery = only_delivery(post(incident, responder, audiences=["cs"]))

    assert attempt(delivery).status == Status.SENT

    (message,) = mail.outbox
    assert message.to == ["cs@example.test", "lead@x.test"]
    assert message.extra_headers["Message-ID"] == f"<delivery-{delivery.pk}@localhost>"
    assert "Customer impact" in message.body
    delivery.refresh_from_db()
    assert delivery.external_id == message.extra_headers["Message-ID"]


def _webhooks(receiver, count: int):
    return [
        DestinationFactory(
            audience=audience("responders"),
            kind=Destination.Kind.WEBHOOK,
            target=receiver.url,
            secret=receiver.secret,
        )
        for _ in range(count)
    ]


def test_a_batch_of_webhooks_is_sent_concurrently_and_recorded_with_history(
    webhook_receiver, incident, responder
):
    _webhooks(webhook_receiver, 5)
    update = post(incident, responder)
    ids = [str(d.pk) for d in update.deliveries.all()]

    outcomes, fallback = outbox.deliveries_attempt_batch(ids)

    assert fallback == []
    assert sorted(str(pk) for pk, _ in outcomes) == sorted(ids)
    assert {result.status for _, result in outcomes} == {Status.SENT}
    assert sorted(webhook_receiver.by_id) == sorted(ids)
    assert len(webhook_receiver.received) == 5 and webhook_receiver.bad_signatures == 0
    for delivery in update.deliveries.all():
        assert delivery.status == Status.SENT and delivery.attempts == 1
        assert delivery.history.first().history_change_reason == "sent"
    # Running the same batch again (a redelivered task) sends nothing more, and hands
    # nothing to the single path either: every row is already sent.
    assert outbox.deliveries_attempt_batch(ids) == ([], [])
    assert len(webhook_receiver.received) == 5


def test_a_failure_inside_a_batch_is_retried_alone(webhook_receiver, incident, responder):
    _webhooks(webhook_receiver, 3)
    webhook_receiver.script = [500]
    update = post(incident, responder)

    outcomes, _ = outbox.deliveries_attempt_batch([str(d.pk) for d in update.deliveries.all()])

    statuses = sorted(result.status for _, result in outcomes)
    assert statuses == [Status.FAILED, Status.SENT, Status.SENT]
    failed_id = next(pk for pk, result in outcomes if result.status == Status.FAILED)
    assert attempt(Delivery.objects.get(pk=failed_id)).status == Status.SENT
    assert len(webhook_receiver.by_id) == 3


def test_what_a_batch_cannot_take_falls_back_to_the_single_path(
    webhook_receiver, fake_slack, slack_destination, incident, responder
):
    tripped, leased, plain = _webhooks(webhook_receiver, 3)
    CircuitBreaker.objects.create(key=f"destination:{tripped.pk}", consecutive_failures=2)
    update = post(incident, responder)
    by_destination = {d.destination_id: d for d in update.deliveries.all()}
    Delivery.objects.filter(pk=by_destination[leased.pk].pk).update(
        status=Status.SENDING, lease_until=timezone.now() + timedelta(seconds=30)
    )
    ids = [str(d.pk) for d in by_destination.values()]

    outcomes, fallback = outbox.deliveries_attempt_batch(ids)

    assert [str(pk) for pk, _ in outcomes] == [str(by_destination[plain.pk].pk)]
    # The leased one is its owner's (and the sweeper's once the lease runs out): a
    # single-row task for it would find it leased and do nothing.
    assert sorted(fallback) == sorted(
        str(by_destination[d.pk].pk) for d in (tripped, slack_destination)
    )


def test_webhook_redirects_are_not_followed(settings):
    """A validated URL must not be able to bounce the request to an internal address."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from notifications.channels import webhook

    internal_hits = []

    class Internal(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            internal_hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        do_POST = do_GET

    internal = ThreadingHTTPServer(("127.0.0.1", 0), Internal)

    class Redirector(Internal):
        def do_POST(self):
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{internal.server_address[1]}/meta")
            self.send_header("Content-Length", "0")
            self.end_headers()

    redirector = ThreadingHTTPServer(("127.0.0.1", 0), Redirector)
    for server in (internal, redirector):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = True  # both servers are local in this test
    try:
        result = webhook.send(
            url=f"http://127.0.0.1:{redirector.server_address[1]}/hook",
            secret=Destination.new_secret(),
            message_id="m1",
            payload={"x": 1},
        )
    finally:
        for server in (internal, redirector):
            server.shutdown()
            server.server_close()

    assert result.outcome == "permanent" and "redirects are not followed" in result.error
    assert internal_hits == []


@pytest.mark.parametrize("url", ["http://[::1", "http://example.com:99999/", "ftp://x/"])
def test_malformed_webhook_urls_are_a_clear_error_naming_the_field(url):
    from common.exceptions import InvalidInput
    from notifications.channels.webhook import validate_url

    with pytest.raises(InvalidInput) as error:
        validate_url(url, field="endpoint")
    assert error.value.field == "endpoint"


def test_an_attempt_that_lost_its_lease_does_not_overwrite_the_new_owner(
    fake_slack, slack_destination, incident, responder
):
    delivery = only_delivery(post(incident, responder))
    claimed, _ = engine.claim(
        outbox.DELIVERIES, delivery.pk
    )  # worker A claims, then stalls past its lease
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Status.SENT, attempts=claimed.attempts + 1, external_id="from-worker-b"
    )  # worker B re-claimed it after the lease and sent it

    result = engine.record(
        outbox.DELIVERIES,
        delivery.pk,
        outbox.SendResult.retry("late timeout"),
        attempt=claimed.attempts,
    )

    assert result.status == Status.SENT
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT and delivery.external_id == "from-worker-b"


def test_request_paths_check_urls_without_dns_and_still_refuse_literal_private_addresses(
    settings,
):
    from common.exceptions import InvalidInput
    from notifications.channels.webhook import validate_url

    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = False
    validate_url("https://hooks.example.invalid/x", resolve=False)  # no lookup made
    for url in ("http://127.0.0.1/x", "http://10.0.0.8/x", "http://[::1]/x", "http://169.254.1.1/"):
        with pytest.raises(InvalidInput):
            validate_url(url, resolve=False)


def test_waiting_out_an_open_breaker_writes_one_history_row_not_one_per_wait(
    fake_slack, slack_destination, responder
):
    """While a breaker stays open, waiting deliveries are re-checked every cooldown;
    only the start of the wait is audited (it used to be a row per wait)."""
    fake_slack.fail_always("chat.postMessage", Fault(status=503), times=outbox.BREAKER_THRESHOLD)
    fake_slack.fail_always("conversations.history", Fault(status=503), times=0)
    # One incident each: updates of one incident wait for each other in their thread.
    tripping, waiting = [], None
    for n in range(outbox.BREAKER_THRESHOLD + 1):
        declared = incident_services.incident_declare(
            title=f"Outage {n}", severity=severity("SEV3"), actor=responder
        )
        delivery = Delivery.objects.get(update__incident=declared, destination=slack_destination)
        if n < outbox.BREAKER_THRESHOLD:
            tripping.append(delivery)
        else:
            waiting = delivery
    for delivery in tripping:
        attempt(delivery)
    rows_before = waiting.history.count()

    for _ in range(5):
        assert attempt(waiting).status == Status.FAILED

    waiting.refresh_from_db()
    assert waiting.status == Status.FAILED and waiting.last_error == outbox.CIRCUIT_OPEN_ERROR
    assert waiting.next_attempt_at == outbox.breaker_open_until(slack_destination.pk)
    reasons = list(waiting.history.values_list("history_change_reason", flat=True))
    assert waiting.history.count() == rows_before + 1
    assert reasons[0] == "circuit open"
    assert waiting.attempts == 0  # the destination was never called for it
