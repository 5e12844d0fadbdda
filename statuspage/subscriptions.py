"""Subscribers: double opt-in, one-click unsubscribe, the tokens of their links and
the limits of the subscribe form. What they are sent when the page changes is
``statuspage.subscriber_notices``.

Subscribers are not ``notifications.Destination`` rows on purpose: those render
the internal subject line. Messages are rows written in the transaction of the
change, idempotent per (subscriber, event), and sent by the one delivery engine
(``statuspage.subscriber_outbox``) like every team delivery.
"""

import ipaddress
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from common import ratelimit
from common.enqueue import enqueue_on_commit
from common.exceptions import InvalidInput, RateLimited
from notifications.channels import webhook as webhook_channel
from notifications.models import Destination
from statuspage.models import Component
from statuspage.page_settings import page_name
from statuspage.subscriber_models import Subscriber, SubscriberNotification
from statuspage.subscriber_notices import event_head
from statuspage.subscriber_outbox import SUBSCRIBERS, VERIFY_EVENT

TOKEN_SALT = "statuspage.subscriber"
CONFIRM_MAX_AGE = timedelta(days=7)
CONFIRM_RESEND_AFTER = timedelta(minutes=10)
MANAGE_MAX_AGE = timedelta(days=7)
Status = SubscriberNotification.Status


# Tokens ------------------------------------------------------------------------


def token_for(subscriber: Subscriber, action: str) -> str:
    return signing.dumps({"s": subscriber.public_id, "a": action}, salt=TOKEN_SALT)


def subscriber_from_token(token: str, action: str) -> Subscriber:
    """The subscriber a signed token names, or InvalidInput (bad, expired, other action)."""
    max_age = {"confirm": CONFIRM_MAX_AGE, "manage": MANAGE_MAX_AGE}.get(action)
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


def manage_url(subscriber: Subscriber) -> str:
    token = token_for(subscriber, "manage")
    return f"{settings.KEEL_PUBLIC_URL}/status/subscriptions/manage/{token}/"


# Limits on what the public form can make Keel send ----------------------------------


def mailbox_key(email: str) -> str:
    """The mailbox an address delivers to, for limits only (never stored or mailed):
    case folded, ``+tags`` and dots dropped from the local part, so ``V.ictim+7@`` and
    ``victim@`` share one budget. Over-merging two real mailboxes only shares a limit."""
    email = unicodedata.normalize("NFKC", email).casefold().strip()
    local, _, domain = email.rpartition("@")
    local = local.split("+", 1)[0].replace(".", "")
    domain = domain.rstrip(".")
    domain = {"googlemail.com": "gmail.com"}.get(domain, domain)
    return f"{local}@{domain}"


def client_key(client: str) -> str:
    """One budget per client address; an IPv6 client gets its /64 (one customer's
    network hands out as many addresses from it as it likes)."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client[:64] or "unknown"
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _spend(*, address: str, client: str) -> None:
    """Count one outgoing message against the address's, the client's and the global
    budget, in that order; RateLimited (429) naming the first one spent.

    Through the project's one limiter (``common.ratelimit``, fixed windows in the
    shared cache), failing closed: an unlimited public form is the abuse this guards
    against. A refused request stops at the budget that refused it and spends none
    after it."""
    window = settings.KEEL_SUBSCRIBE_WINDOW_SECONDS
    budgets = [
        ("address", address, settings.KEEL_SUBSCRIBE_PER_ADDRESS, "for this address"),
        ("client", client_key(client), settings.KEEL_SUBSCRIBE_PER_CLIENT, "from your network"),
        ("global", "all", settings.KEEL_SUBSCRIBE_GLOBAL, "right now"),
    ]
    for name, ident, limit, where in budgets:
        decision = ratelimit.hit(
            f"subscribe-{name}", ident, limit=limit, window=window, fail_closed=True
        )
        if decision.unavailable:
            raise RateLimited(
                "Subscriptions are briefly unavailable. Nothing was sent; try again in a minute.",
                retry_after=decision.retry_after,
            )
        if not decision.allowed:
            minutes = max(1, round(decision.retry_after / 60))
            raise RateLimited(
                f"Too many subscription requests {where}. Nothing was sent; "
                f"try again in about {minutes} minute{'s' if minutes != 1 else ''}.",
                retry_after=decision.retry_after,
                field="email" if name == "address" else None,
            )


# Services ----------------------------------------------------------------------


@dataclass(frozen=True)
class Subscription:
    """What the form did: ``sent`` is confirmation, manage, challenge or nothing."""

    subscriber: Subscriber
    sent: str
    secret: str = ""


def _asked_recently(subscriber: Subscriber, prefix: str) -> bool:
    return subscriber.notifications.filter(
        event__startswith=prefix, created_at__gte=timezone.now() - CONFIRM_RESEND_AFTER
    ).exists()


def _refuse_control_characters(value: str, field: str) -> None:
    # NUL cannot reach PostgreSQL at all, and no address or id contains any of these.
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidInput("Remove the control characters (such as line breaks).", field=field)


@transaction.atomic
def subscriber_subscribe(
    *,
    kind: str,
    email: str = "",
    endpoint: str = "",
    component_ids: list[str] = (),
    client: str = "",
) -> Subscription:
    """The public form. Writes at most one subscriber and one outbox message.

    Email, new or unconfirmed: a confirmation (double opt-in); the latest request's
    components win until confirmed. Email, confirmed: nothing changes; a "manage your
    subscription" message with a signed link is sent, since the form proves nothing
    about who submits it. Webhook, new: an unconfirmed subscriber with a new signing
    secret (shown once) and a verification challenge the endpoint must echo; nothing
    else is sent until it does. Webhook, endpoint already confirmed: nothing.

    Every message sent spends the per-address (normalised mailbox or endpoint host),
    per-client and global budgets; over one, RateLimited and nothing is stored. At
    most one message per address per ``CONFIRM_RESEND_AFTER`` either way."""
    for value, field in [(email, "email"), (endpoint, "endpoint"), (kind, "kind")] + [
        (c, "components") for c in component_ids
    ]:
        _refuse_control_characters(value or "", field)
    components = list(Component.objects.filter(public_id__in=list(component_ids)))
    if len(components) != len(set(component_ids)):
        raise InvalidInput("Unknown component.", field="components")
    if kind == Subscriber.Kind.EMAIL:
        email = (email or "").strip().lower()
        if len(email) > 254:
            raise InvalidInput("That email address is too long.", field="email")
        try:
            validate_email(email)
        except Exception as exc:
            raise InvalidInput("Enter a valid email address.", field="email") from exc
        subscriber = (
            Subscriber.objects.select_for_update()
            .filter(kind=kind, email=email, unsubscribed_at__isnull=True)
            .first()
        )
        if subscriber is not None and subscriber.confirmed_at is not None:
            if _asked_recently(subscriber, "manage:"):
                return Subscription(subscriber, "nothing")
            _spend(address=mailbox_key(email), client=client)
            _write(
                [subscriber],
                event=f"manage:{timezone.now():%Y%m%d%H%M%S%f}",
                subject=f"Your {page_name()} status subscription",
                body=(
                    f"Someone asked to subscribe this address to {page_name()} "
                    "status updates. It is already subscribed, and nothing was changed.\n\n"
                    f"To change which components you hear about: {manage_url(subscriber)}\n"
                    "(the link works for 7 days)\n\n"
                    f"To stop all messages: {unsubscribe_url(subscriber)}\n\n"
                    "If it was not you, ignore this message."
                ),
                payload={},
            )
            return Subscription(subscriber, "manage")
        if subscriber is None:
            subscriber = Subscriber.objects.create(kind=kind, email=email)
        subscriber.components.set(components)
        if _asked_recently(subscriber, "confirm:"):
            return Subscription(subscriber, "nothing")
        _spend(address=mailbox_key(email), client=client)
        _write(
            [subscriber],
            event=f"confirm:{timezone.now():%Y%m%d%H%M%S%f}",
            subject=f"Confirm your subscription to {page_name()} status",
            body=(
                f"Someone (hopefully you) asked to receive {page_name()} "
                f"status updates at this address.\n\nConfirm: {confirm_url(subscriber)}\n\n"
                "If it was not you, ignore this message: nothing will be sent."
            ),
            payload={},
        )
        return Subscription(subscriber, "confirmation")
    if kind == Subscriber.Kind.WEBHOOK:
        endpoint = (endpoint or "").strip()
        if len(endpoint) > 500:
            raise InvalidInput("That URL is too long.", field="endpoint")
        webhook_channel.validate_url(endpoint, field="endpoint", resolve=False)
        existing = Subscriber.objects.filter(
            kind=kind, endpoint=endpoint, unsubscribed_at__isnull=True
        )
        if existing.filter(confirmed_at__isnull=False).exists():
            # Re-submitting must not add, narrow or re-key a live subscription: its
            # changes go through the manage link in every payload's meta.manage.
            return Subscription(existing.filter(confirmed_at__isnull=False).first(), "nothing")
        _spend(address=f"host:{(urlsplit(endpoint).hostname or '').lower()}", client=client)
        # A new row and secret per request, even for an endpoint already waiting:
        # showing the waiting row's secret would hand it to whoever re-submits.
        subscriber = Subscriber.objects.create(
            kind=kind, endpoint=endpoint, secret=Destination.new_secret()
        )
        subscriber.components.set(components)
        _write(
            [subscriber],
            event=f"{VERIFY_EVENT}{timezone.now():%Y%m%d%H%M%S%f}",
            subject="Endpoint verification",
            body="",
            payload={
                **event_head("endpoint.verification"),
                "challenge": secrets.token_urlsafe(24),
                "page": {"id": settings.STATUSPAGE_PAGE_ID, "name": page_name()},
            },
        )
        return Subscription(subscriber, "challenge", secret=subscriber.secret)
    raise InvalidInput("Choose email or webhook.", field="kind")


@transaction.atomic
def subscriber_components_set(*, token: str, component_ids: list[str]) -> Subscriber:
    """The subscriber's own signed ``manage`` link: the only way to change what a
    confirmed subscription covers. None chosen means all. Writes a history row."""
    subscriber = subscriber_from_token(token, "manage")
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    for value in component_ids:
        _refuse_control_characters(value, "components")
    if subscriber.unsubscribed_at is not None:
        raise InvalidInput("This subscription was cancelled; subscribe again.", field="token")
    components = list(Component.objects.filter(public_id__in=list(component_ids)))
    if len(components) != len(set(component_ids)):
        raise InvalidInput("Unknown component.", field="components")
    subscriber.components.set(components)
    subscriber._change_reason = "components changed through the subscriber's signed link"
    subscriber.save(update_fields=["updated_at"])
    return subscriber


@transaction.atomic
def subscriber_confirm(*, token: str) -> Subscriber:
    subscriber = subscriber_from_token(token, "confirm")
    if subscriber.kind != Subscriber.Kind.EMAIL:  # webhooks confirm by echoing a challenge
        raise InvalidInput("This link is not valid.", field="token")
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
        waiting = list(subscriber.notifications.filter(status__in=[Status.PENDING, Status.FAILED]))
        for row in waiting:
            row.status, row.last_error = Status.DEAD, "Unsubscribed."
        bulk_update_with_history(
            waiting,
            SubscriberNotification,
            ["status", "last_error"],
            default_change_reason="unsubscribed",
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
    enqueue_on_commit(SUBSCRIBERS.send_messages(ids), what="subscriber notifications")
    return ids
