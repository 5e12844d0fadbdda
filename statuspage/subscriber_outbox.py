"""Status page subscriber notifications on the delivery engine
(``notifications.engine``), registered at start-up like the status page channel.

Sent exactly as team deliveries are: claimed with a lease, one retry policy,
the email sender and its channel pause and circuit breaker (one mail server for
all email), a breaker per webhook subscriber, the batched fast path, the
sweeper, Replay and a history row per outcome. What is theirs alone: the
unsubscribe footer and headers, the manage links in a webhook's ``meta``,
endpoint verification, and a subscriber who left or whose endpoint is gone.
"""

from django.db import transaction
from django.utils import timezone

from common import webhook_contracts
from common.enqueue import enqueue_on_commit
from common.exceptions import InvalidInput
from common.roles import require_admin
from notifications import engine
from notifications.channels import email as email_channel
from notifications.channels import email_session
from notifications.channels import webhook as webhook_channel
from notifications.channels.base import SendResult
from statuspage.subscriber_models import Subscriber, SubscriberNotification
from statuspage.tasks import subscriber_notifications_send_batch_task

VERIFY_EVENT = "verify:"
# Messages whose body is the whole point (a link to confirm or manage): no footer.
FOOTERLESS_EVENTS = ("confirm:", "manage:")
Status = SubscriberNotification.Status


def _links(subscriber: Subscriber) -> tuple[str, str]:
    # subscriptions imports this module
    from statuspage.subscriptions import manage_url, unsubscribe_url

    return manage_url(subscriber), unsubscribe_url(subscriber)


def _send_email(row: SubscriberNotification, session=None) -> SendResult:
    manage, unsubscribe = _links(row.subscriber)
    body = row.body
    if not row.event.startswith(FOOTERLESS_EVENTS):
        body += f"\n\n--\nChange components: {manage}\nUnsubscribe: {unsubscribe}"
    return email_channel.send(
        recipients=[row.subscriber.email],
        subject=row.subject,
        body=body,
        delivery_id=str(row.pk),
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        session=session,
    )


# Rows written before payloads carried ``type`` and ``version`` (a retry queued
# across the upgrade) get them from their event key.
_LEGACY_TYPES = (
    ("incident-update:", "incident_update"),
    ("maintenance:", "maintenance_update"),
    ("component-update:", "component_update"),
    (VERIFY_EVENT, "endpoint.verification"),
)


def _typed(row: SubscriberNotification) -> dict:
    payload = dict(row.payload)
    if "version" not in payload:
        event = next((t for prefix, t in _LEGACY_TYPES if row.event.startswith(prefix)), None)
        if event is not None:
            payload = {"type": event, "version": webhook_contracts.VERSIONS[event], **payload}
    return payload


def _send_webhook(row: SubscriberNotification) -> SendResult:
    manage, unsubscribe = _links(row.subscriber)
    payload = _typed(row)
    payload["meta"] = {**payload.get("meta", {}), "unsubscribe": unsubscribe, "manage": manage}
    return webhook_channel.send(
        url=row.subscriber.endpoint,
        secret=row.subscriber.secret,
        message_id=str(row.pk),
        payload=payload,
        # Endpoint verification: only an echo of the challenge confirms the subscriber.
        challenge=row.payload.get("challenge", "") if row.event.startswith(VERIFY_EVENT) else "",
    )


def _endpoint_verified(row: SubscriberNotification) -> None:
    """The endpoint echoed the challenge: the subscriber is confirmed (history row)."""
    subscriber = Subscriber.objects.select_for_update().get(pk=row.subscriber_id)
    if subscriber.confirmed_at is not None or subscriber.unsubscribed_at is not None:
        return
    twin = Subscriber.objects.filter(
        kind=subscriber.kind,
        endpoint=subscriber.endpoint,
        confirmed_at__isnull=False,
        unsubscribed_at__isnull=True,
    ).exists()
    if twin:  # another request for this endpoint verified first: one live subscription
        row.last_error = "The endpoint is already subscribed through another request."
        return
    subscriber.confirmed_at = timezone.now()
    subscriber._change_reason = "endpoint verified (challenge echoed)"
    subscriber.save(update_fields=["confirmed_at", "updated_at"])


class SubscriberNotifications(engine.Producer):
    name = "subscriber"
    model = SubscriberNotification
    channel_field = "subscriber__kind"

    def locked(self):
        return SubscriberNotification.objects.select_for_update(
            of=("self",), no_key=True
        ).select_related("subscriber")

    def batch_candidates(self, rows):
        return rows.select_related("subscriber").filter(subscriber__unsubscribed_at__isnull=True)

    def channel_kind(self, row) -> str:
        # Subscriber.Kind's values are Destination.Kind's: a paused "email" channel
        # holds subscriber email too.
        return row.subscriber.kind

    def channel_label(self, row) -> str:
        return "Email" if row.subscriber.kind == Subscriber.Kind.EMAIL else "Webhooks"

    def breaker_key(self, row) -> str:
        if row.subscriber.kind == Subscriber.Kind.EMAIL:
            return email_channel.BREAKER_KEY
        # One subscriber's broken endpoint must not hold back anyone else's.
        return f"subscriber:{row.subscriber_id}"

    def hold(self, row, now):
        if row.subscriber.unsubscribed_at is not None:
            row.status, row.last_error = Status.DEAD, "Unsubscribed."
            engine.save(row, "unsubscribed", ["status", "last_error"])
            return engine.AttemptResult(Status.DEAD)
        return None

    def prepare(self, rows: list) -> dict:
        """A batch's email goes through one mail-server session per send thread
        (``email_session``), not one connection per message."""
        if any(row.subscriber.kind == Subscriber.Kind.EMAIL for row in rows):
            return {"smtp": email_session.Sessions()}
        return {}

    def send(self, row, prepared: dict) -> SendResult:
        if row.subscriber.kind == Subscriber.Kind.EMAIL:
            sessions = prepared.get("smtp")
            return _send_email(row, sessions.current() if sessions else None)
        return _send_webhook(row)

    def finish(self, prepared: dict) -> None:
        if "smtp" in prepared:
            prepared["smtp"].close()

    def on_sent(self, row) -> None:
        if row.event.startswith(VERIFY_EVENT):
            _endpoint_verified(row)

    def on_gone(self, row, result: SendResult) -> None:
        subscriber = Subscriber.objects.get(pk=row.subscriber_id)
        subscriber.unsubscribed_at = timezone.now()
        subscriber._change_reason = "endpoint gone (HTTP 410)"
        subscriber.save(update_fields=["unsubscribed_at", "updated_at"])

    def send_messages(self, ids: list) -> list:
        """Email and webhooks alike: batches (the single path takes what a batch
        cannot claim)."""
        ids = [str(pk) for pk in ids]
        size = engine.BATCH_SIZE
        return [
            (subscriber_notifications_send_batch_task, (ids[start : start + size],))
            for start in range(0, len(ids), size)
        ]

    def describe(self, row) -> str:
        return f"{row.event} to subscriber {row.subscriber_id}"


SUBSCRIBERS = SubscriberNotifications()


def notification_attempt(notification_id) -> engine.AttemptResult:
    """Claim, send, record one subscriber notification (``engine.attempt``)."""
    return engine.attempt(SUBSCRIBERS, notification_id)


@transaction.atomic
def subscriber_notification_replay(
    *, notification: SubscriberNotification, actor
) -> SubscriberNotification:
    """Send a failed, dead or skipped subscriber notification again (audited: a
    history row with the actor). ``attempts`` starts again from 0; the message
    keeps its id, so its Message-ID and ``webhook-id`` let the far side drop a
    copy of one that did arrive."""
    require_admin(actor, to="replay subscriber notifications")
    row = (
        SubscriberNotification.objects.select_for_update(of=("self",))
        .select_related("subscriber")
        .get(pk=notification.pk)
    )
    if row.status not in (Status.FAILED, Status.DEAD, Status.SKIPPED):
        raise InvalidInput(
            f"Only failed or dead notifications can be replayed; this one is {row.status}.",
            field="status",
        )
    if row.subscriber.unsubscribed_at is not None:
        raise InvalidInput("The subscriber has unsubscribed.", field="subscriber")
    row.status = Status.PENDING
    row.attempts = 0
    row.next_attempt_at = timezone.now()
    row._history_user = actor
    row._change_reason = "replayed"
    row.save(update_fields=["status", "attempts", "next_attempt_at", "updated_at"])
    enqueue_on_commit(SUBSCRIBERS.send_messages([row.pk]), what="replayed subscriber notification")
    return row
