"""Subscribers: double opt-in, one-click unsubscribe, and their own outbox.

Every message is built from the public models only (the published name, the
published update body, component names), never from the internal incident.
Subscribers are not ``notifications.Destination`` rows on purpose: those render
the internal subject line. The outbox here follows the same rules as the
incidents' one: rows written in the transaction of the change, sent by a task
after commit, leased, retried with backoff, swept by the beat, idempotent per
(subscriber, event).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from common.exceptions import InvalidInput
from notifications.channels.base import Outcome, SendResult
from notifications.enqueue import enqueue_on_commit
from statuspage.models import (
    Component,
    PublicIncidentUpdate,
    ScheduledMaintenance,
    Subscriber,
    SubscriberNotification,
)

logger = logging.getLogger(__name__)

TOKEN_SALT = "statuspage.subscriber"
CONFIRM_MAX_AGE = timedelta(days=7)
CONFIRM_RESEND_AFTER = timedelta(minutes=10)
MAX_ATTEMPTS = 8
Status = SubscriberNotification.Status


# Tokens ------------------------------------------------------------------------


def token_for(subscriber: Subscriber, action: str) -> str:
    return signing.dumps({"s": subscriber.public_id, "a": action}, salt=TOKEN_SALT)


def subscriber_from_token(token: str, action: str) -> Subscriber:
    """The subscriber a signed token names, or InvalidInput (bad, expired, other action)."""
    max_age = CONFIRM_MAX_AGE if action == "confirm" else None
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise InvalidInput("This link has expired; subscribe again.", field="token") from exc
    except signing.BadSignature as exc:
        raise InvalidInput("This link is not valid.", field="token") from exc
    if data.get("a") != action:
        raise InvalidInput("This link is not valid.", field="token")
    subscriber = Subscriber.objects.filter(public_id=data.get("s")).first()
    if subscriber is None:
        raise InvalidInput("This subscription no longer exists.", field="token")
    return subscriber


def unsubscribe_url(subscriber: Subscriber) -> str:
    token = token_for(subscriber, "unsubscribe")
    return f"{settings.KEEL_PUBLIC_URL}/status/subscriptions/unsubscribe/{token}/"


def confirm_url(subscriber: Subscriber) -> str:
    token = token_for(subscriber, "confirm")
    return f"{settings.KEEL_PUBLIC_URL}/status/subscriptions/confirm/{token}/"


# Services ----------------------------------------------------------------------


def _send_messages(ids: list) -> list:
    from statuspage.tasks import subscriber_notification_send_task

    return [(subscriber_notification_send_task, (str(pk),)) for pk in ids]


@transaction.atomic
def subscriber_subscribe(
    *, kind: str, email: str = "", endpoint: str = "", component_ids: list[str] = ()
) -> Subscriber:
    """Email: an unconfirmed subscriber and a confirmation message (double opt-in).
    Webhook: an active subscriber with a new signing secret (shown once).
    Subscribing an address already subscribed re-sends the confirmation."""
    from notifications.channels import webhook as webhook_channel
    from notifications.models import Destination

    components = list(Component.objects.filter(public_id__in=list(component_ids)))
    if len(components) != len(set(component_ids)):
        raise InvalidInput("Unknown component.", field="components")
    if kind == Subscriber.Kind.EMAIL:
        email = (email or "").strip().lower()
        from django.core.validators import validate_email

        try:
            validate_email(email)
        except Exception as exc:
            raise InvalidInput("Enter a valid email address.", field="email") from exc
        if len(email) > 254:
            raise InvalidInput("That email address is too long.", field="email")
        subscriber = Subscriber.objects.filter(
            kind=kind, email=email, unsubscribed_at__isnull=True
        ).first()
        if subscriber is None:
            subscriber = Subscriber.objects.create(kind=kind, email=email)
        subscriber.components.set(components)
        recently_asked = subscriber.notifications.filter(
            event__startswith="confirm:", created_at__gte=timezone.now() - CONFIRM_RESEND_AFTER
        ).exists()
        # The form is public: at most one confirmation per address per interval, so it
        # cannot be used to flood someone's inbox.
        if subscriber.confirmed_at is None and not recently_asked:
            _write(
                [subscriber],
                event=f"confirm:{timezone.now():%Y%m%d%H%M%S%f}",
                subject=f"Confirm your subscription to {settings.STATUSPAGE_NAME} status",
                body=(
                    f"Someone (hopefully you) asked to receive {settings.STATUSPAGE_NAME} "
                    f"status updates at this address.\n\nConfirm: {confirm_url(subscriber)}\n\n"
                    "If it was not you, ignore this message: nothing will be sent."
                ),
                payload={},
            )
        return subscriber
    if kind == Subscriber.Kind.WEBHOOK:
        endpoint = (endpoint or "").strip()
        if len(endpoint) > 500:
            raise InvalidInput("That URL is too long.", field="endpoint")
        webhook_channel.validate_url(endpoint, field="endpoint", resolve=False)
        subscriber = Subscriber.objects.create(
            kind=kind,
            endpoint=endpoint,
            secret=Destination.new_secret(),
            confirmed_at=timezone.now(),
        )
        subscriber.components.set(components)
        return subscriber
    raise InvalidInput("Choose email or webhook.", field="kind")


@transaction.atomic
def subscriber_confirm(*, token: str) -> Subscriber:
    subscriber = subscriber_from_token(token, "confirm")
    if subscriber.unsubscribed_at is not None:
        raise InvalidInput("This subscription was cancelled; subscribe again.", field="token")
    if subscriber.confirmed_at is None:
        subscriber.confirmed_at = timezone.now()
        subscriber._change_reason = "confirmed"
        subscriber.save(update_fields=["confirmed_at", "updated_at"])
    return subscriber


@transaction.atomic
def subscriber_unsubscribe(*, token: str) -> Subscriber:
    """Idempotent: a second click finds it already unsubscribed."""
    subscriber = subscriber_from_token(token, "unsubscribe")
    if subscriber.unsubscribed_at is None:
        subscriber.unsubscribed_at = timezone.now()
        subscriber._change_reason = "unsubscribed"
        subscriber.save(update_fields=["unsubscribed_at", "updated_at"])
        subscriber.notifications.filter(status__in=[Status.PENDING, Status.FAILED]).update(
            status=Status.DEAD, last_error="Unsubscribed."
        )
    return subscriber


def _write(subscribers, *, event: str, subject: str, body: str, payload: dict) -> list:
    now = timezone.now()
    rows = [
        SubscriberNotification(
            subscriber=s,
            event=event[:100],
            subject=subject[:250],
            body=body[:8000],
            payload=payload,
            next_attempt_at=now,
        )
        for s in subscribers
    ]
    SubscriberNotification.objects.bulk_create(rows, ignore_conflicts=True)
    ids = list(
        SubscriberNotification.objects.filter(
            event=event[:100], subscriber__in=[s.pk for s in subscribers], status=Status.PENDING
        ).values_list("pk", flat=True)
    )
    enqueue_on_commit(_send_messages(ids), what="subscriber notifications")
    return ids


def _audience(components: list[Component]):
    """Active subscribers who chose none (all) or one of these components."""
    ids = [c.pk for c in components]
    return list(
        Subscriber.objects.filter(confirmed_at__isnull=False, unsubscribed_at__isnull=True)
        .filter(Q(components__isnull=True) | Q(components__in=ids))
        .distinct()
    )


def _page_status() -> dict:
    from statuspage import selectors

    components = list(selectors.components_all())
    indicator = selectors.page_indicator(
        components, list(selectors.incidents_unresolved()), list(selectors.maintenances_active())
    )
    return {
        "id": settings.STATUSPAGE_PAGE_ID,
        "status_indicator": indicator,
        "status_description": selectors.INDICATOR_DESCRIPTIONS[indicator],
    }


def _envelope(document: dict, page: dict) -> dict:
    """Statuspage's webhook shape: ``meta``, ``page``, ``incident``."""
    return {
        "meta": {"unsubscribe": None, "documentation": f"{settings.KEEL_PUBLIC_URL}/status/"},
        "page": page,
        "incident": document,
    }


def incident_update_notify(*, update: PublicIncidentUpdate) -> list:
    """Fan a published incident update out to the subscribers of its components."""
    from statuspage import documents, selectors

    public = selectors.incidents_with_updates().get(pk=update.public_incident_id)
    components = list(public.components.all())
    subscribers = _audience(components)
    if not subscribers:
        return []
    affected = ", ".join(c.name for c in components)
    body = (
        f"{public.name}\n{update.get_status_display()}: {update.body}\n\n"
        + (f"Affected: {affected}\n" if affected else "")
        + f"Details: {settings.KEEL_PUBLIC_URL}/status/incidents/{public.public_id}/"
    )
    return _write(
        subscribers,
        event=f"incident-update:{update.public_id}",
        subject=f"[{settings.STATUSPAGE_NAME} status] {public.name}: {update.get_status_display()}",
        body=body,
        payload=_envelope(documents.incident(public), _page_status()),
    )


def maintenance_notify(*, maintenance: ScheduledMaintenance, event: str, headline: str) -> list:
    from statuspage import documents, selectors

    maintenance = selectors.maintenances_with_updates().get(pk=maintenance.pk)
    components = list(maintenance.components.all())
    subscribers = _audience(components)
    if not subscribers:
        return []
    latest = next(iter(maintenance.updates.all()), None)
    body = (
        f"{maintenance.name}\n{headline}\n"
        f"Scheduled {maintenance.scheduled_for:%Y-%m-%d %H:%M} to "
        f"{maintenance.scheduled_until:%Y-%m-%d %H:%M} UTC.\n"
        + (f"{latest.body}\n" if latest else "")
        + (f"Components: {', '.join(c.name for c in components)}\n" if components else "")
        + f"Details: {settings.KEEL_PUBLIC_URL}/status/maintenances/{maintenance.public_id}/"
    )
    return _write(
        subscribers,
        event=f"maintenance:{maintenance.public_id}:{event}"[:100],
        subject=f"[{settings.STATUSPAGE_NAME} status] {maintenance.name}: {headline}",
        body=body,
        payload=_envelope(documents.maintenance(maintenance), _page_status()),
    )


# Sending -----------------------------------------------------------------------


def _claim(notification_id):
    now = timezone.now()
    with transaction.atomic():
        row = (
            SubscriberNotification.objects.select_for_update()
            .select_related("subscriber")
            .filter(pk=notification_id)
            .first()
        )
        if row is None or row.status in (Status.SENT, Status.DEAD):
            return None, None
        if row.status == Status.SENDING and row.lease_until and row.lease_until > now:
            return None, None
        if row.next_attempt_at > now + timedelta(seconds=1):
            return None, (row.next_attempt_at - now).total_seconds()
        if row.subscriber.unsubscribed_at is not None:
            row.status, row.last_error = Status.DEAD, "Unsubscribed."
            row.save(update_fields=["status", "last_error"])
            return None, None
        row.status = Status.SENDING
        row.attempts += 1
        row.lease_until = now + timedelta(seconds=settings.KEEL_DELIVERY_LEASE_SECONDS)
        row.save(update_fields=["status", "attempts", "lease_until"])
        return row, None


def _send_email(row: SubscriberNotification) -> SendResult:
    import smtplib

    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "keel.local"
    unsubscribe = unsubscribe_url(row.subscriber)
    body = row.body
    if not row.event.startswith("confirm:"):
        body += f"\n\n--\nUnsubscribe: {unsubscribe}"
    message = EmailMessage(
        subject=row.subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[row.subscriber.email],
        headers={
            "Message-ID": f"<status-{row.pk}@{domain}>",
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        connection=get_connection(
            timeout=min(settings.EMAIL_TIMEOUT, settings.KEEL_OUTBOUND_TIMEOUT_SECONDS)
        ),
    )
    try:
        message.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        return SendResult(Outcome.PERMANENT, error=f"Recipient refused: {exc.recipients}"[:500])
    except (smtplib.SMTPException, OSError) as exc:
        return SendResult.retry(f"{type(exc).__name__}: {exc}"[:500])
    return SendResult.sent(str(row.pk))


def _send_webhook(row: SubscriberNotification) -> SendResult:
    from notifications.channels import webhook as webhook_channel

    payload = dict(row.payload)
    payload["meta"] = {**payload.get("meta", {}), "unsubscribe": unsubscribe_url(row.subscriber)}
    return webhook_channel.send(
        url=row.subscriber.endpoint,
        secret=row.subscriber.secret,
        message_id=str(row.pk),
        payload=payload,
    )


def notification_attempt(notification_id) -> float | None:
    """Claim, send outside any transaction, record. Returns seconds until a retry."""
    from notifications.outbox import backoff_seconds

    row, wait = _claim(notification_id)
    if row is None:
        return wait
    try:
        if row.subscriber.kind == Subscriber.Kind.EMAIL:
            result = _send_email(row)
        else:
            result = _send_webhook(row)
    except Exception as exc:  # an adapter bug must not lose the message
        logger.exception("subscriber notification %s raised", row.pk)
        result = SendResult.retry(f"{type(exc).__name__}: {exc}"[:500])
    with transaction.atomic():
        row = SubscriberNotification.objects.select_for_update().get(pk=row.pk)
        row.lease_until = None
        row.last_error = result.error[:1000]
        if result.outcome == Outcome.SENT:
            row.status, row.sent_at = Status.SENT, timezone.now()
            row.save(update_fields=["status", "sent_at", "lease_until", "last_error"])
            return None
        if result.outcome == Outcome.GONE:
            subscriber = Subscriber.objects.get(pk=row.subscriber_id)
            subscriber.unsubscribed_at = timezone.now()
            subscriber._change_reason = "endpoint gone (HTTP 410)"
            subscriber.save(update_fields=["unsubscribed_at", "updated_at"])
        if result.outcome in (Outcome.GONE, Outcome.PERMANENT) or row.attempts >= MAX_ATTEMPTS:
            row.status = Status.DEAD
            row.save(update_fields=["status", "lease_until", "last_error"])
            return None
        wait = max(result.retry_after or 0.0, backoff_seconds(row.attempts))
        row.status = Status.FAILED
        row.next_attempt_at = timezone.now() + timedelta(seconds=wait)
        row.save(update_fields=["status", "lease_until", "last_error", "next_attempt_at"])
        return wait


def notifications_due(*, now=None) -> list:
    now = now or timezone.now()
    grace = timedelta(seconds=settings.KEEL_SWEEP_GRACE_SECONDS)
    waiting = SubscriberNotification.objects.filter(
        status__in=[Status.PENDING, Status.FAILED], next_attempt_at__lte=now - grace
    )
    stale = SubscriberNotification.objects.filter(status=Status.SENDING, lease_until__lt=now)
    ids = list(waiting.values_list("pk", flat=True)[:500])
    return ids + list(stale.values_list("pk", flat=True)[:500])
