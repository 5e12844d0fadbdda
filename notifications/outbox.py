"""The outbox engine: claim a delivery, send it outside any transaction, record
the outcome. Retries use exponential backoff with jitter and honour
Retry-After; a circuit breaker per destination (state in the database, shared
by every worker process) stops hammering a dead destination.

Every step is safe to repeat: a duplicate task finds the delivery already sent,
leased by another worker, or not yet due, and does nothing.
"""

import logging
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from incidents.models import TimelineEvent
from incidents.visibility import can_see, may_tell_audiences
from notifications import rendering
from notifications.channels import email as email_channel
from notifications.channels import slack as slack_channel
from notifications.channels import statuspage as statuspage_channel
from notifications.channels import webhook as webhook_channel
from notifications.channels.base import Outcome, SendResult
from notifications.models import ChannelPause, CircuitBreaker, Delivery, Destination

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0
BREAKER_THRESHOLD = 5
BREAKER_COOLDOWN = timedelta(seconds=30)
EARLY_TOLERANCE = timedelta(seconds=1)
SERIALISE_DELAY_SECONDS = 2.0
# A Slack attempt gets the time of this many calls (each bounded by
# KEEL_OUTBOUND_TIMEOUT_SECONDS; a normal attempt makes two or three) and stops
# calling Slack when it is up. Its lease is that plus LEASE_MARGIN_SECONDS (clock
# differences between workers), so a killed worker holds an incident's thread
# for ~20 s (5 s timeout) rather than the whole KEEL_DELIVERY_LEASE_SECONDS.
SLACK_ATTEMPT_CALLS = 4
LEASE_MARGIN_SECONDS = 1.0
CIRCUIT_OPEN_ERROR = "Circuit open: the destination failed repeatedly."

Status = Delivery.Status


def backoff_seconds(attempt: int, *, rng: random.Random | None = None) -> float:
    """Full jitter: uniform in [base/2, min(cap, base * 2^(attempt-1))]."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(attempt - 1, 0))
    return (rng or random).uniform(BACKOFF_BASE_SECONDS / 2, ceiling)


def _breaker_key(destination_id: int) -> str:
    return f"destination:{destination_id}"


def breaker_open_until(destination_id: int):
    """When the breaker of this destination closes again, or None when it is closed."""
    breaker = CircuitBreaker.objects.filter(key=_breaker_key(destination_id)).first()
    if breaker and breaker.opened_until and breaker.opened_until > timezone.now():
        return breaker.opened_until
    return None


def _breaker_record(destination_id: int, *, success: bool, error: str = "") -> None:
    if success:
        # One UPDATE that matches only a breaker not already closed: the common case
        # (no row, or a clean one) writes nothing and takes no lock.
        CircuitBreaker.objects.filter(key=_breaker_key(destination_id)).exclude(
            consecutive_failures=0, opened_until=None, last_failure=""
        ).update(
            consecutive_failures=0, opened_until=None, last_failure="", updated_at=timezone.now()
        )
        return
    breaker, _ = CircuitBreaker.objects.select_for_update().get_or_create(
        key=_breaker_key(destination_id)
    )
    breaker.consecutive_failures += 1
    breaker.last_failure = error[:1000]
    if breaker.consecutive_failures >= BREAKER_THRESHOLD:
        breaker.opened_until = timezone.now() + BREAKER_COOLDOWN
        logger.warning(
            "circuit open for destination %s after %s failures: %s",
            destination_id,
            breaker.consecutive_failures,
            error,
        )
    breaker.save()


def _half_open_probe(destination_id: int) -> bool:
    """After the cooldown one caller probes; others wait for another cooldown."""
    breakers = CircuitBreaker.objects.filter(key=_breaker_key(destination_id))
    # A closed breaker needs no lock; only a tripped one is locked, so that exactly
    # one caller wins the half-open probe.
    if not breakers.filter(consecutive_failures__gte=BREAKER_THRESHOLD).exists():
        return True
    breaker = breakers.select_for_update().first()
    if breaker is None or breaker.consecutive_failures < BREAKER_THRESHOLD:
        return True
    now = timezone.now()
    if breaker.opened_until and breaker.opened_until > now:
        return False
    breaker.opened_until = now + BREAKER_COOLDOWN
    breaker.save(update_fields=["opened_until", "updated_at"])
    return True


def lease_seconds(kind: str) -> float:
    """How long a claim holds a delivery of this channel kind."""
    lease = float(settings.KEEL_DELIVERY_LEASE_SECONDS)
    if kind == Destination.Kind.SLACK:
        budget = SLACK_ATTEMPT_CALLS * settings.KEEL_OUTBOUND_TIMEOUT_SECONDS
        return min(lease, budget + LEASE_MARGIN_SECONDS)
    return lease


def _slack_thread_wait(delivery: Delivery, now) -> float | None:
    """Seconds to wait before this Slack delivery may go, or None: go now.

    One message at a time per (incident, destination) thread, in the order the
    updates were written: wait while another delivery of the thread is sending
    under a live lease, or an earlier one is not finished — pending, failed and
    waiting out its backoff (an ambiguous post settles meanwhile), or sending
    under a lease that ran out (the sweeper hands it to a worker, which
    reconciles what the killed one left). The earliest unfinished delivery never
    waits, so the thread cannot deadlock.
    """
    thread = Delivery.objects.filter(
        destination_id=delivery.destination_id,
        update__incident_id=delivery.update.incident_id,
    ).exclude(pk=delivery.pk)
    earlier = Q(created_at__lt=delivery.created_at) | Q(
        created_at=delivery.created_at, pk__lt=delivery.pk
    )
    blockers = list(
        thread.filter(
            Q(status=Status.SENDING, lease_until__gt=now)
            | (earlier & Q(status__in=[Status.PENDING, Status.SENDING, Status.FAILED]))
        ).values_list("status", "next_attempt_at")
    )
    if not blockers:
        return None
    if any(status != Status.FAILED for status, _ in blockers):
        return SERIALISE_DELAY_SECONDS
    # Every blocker waits out a backoff: come back just after the first one is due.
    first_due = min(next_attempt_at for _, next_attempt_at in blockers)
    return max(SERIALISE_DELAY_SECONDS, (first_due - now).total_seconds() + SERIALISE_DELAY_SECONDS)


@dataclass(frozen=True)
class AttemptResult:
    """What the task does next: nothing, or run again after ``retry_in`` seconds."""

    status: str
    retry_in: float | None = None


def _save(delivery: Delivery, reason: str, fields: list[str]) -> None:
    delivery._change_reason = reason[:100]
    delivery.save(update_fields=[*fields, "updated_at"])


def still_tellable(delivery: Delivery) -> bool:
    """The visibility gate again at send time: the channels render the incident's
    *current* title, so an update written while the incident was public must not
    leave once it is private: it was meant for a public incident. Passes only what a
    participant addressed by hand while the incident was already private."""
    update = delivery.update
    incident = update.incident
    if delivery.destination.user_id is not None:
        # A personal notice: the one gate is whether its person may see the incident.
        return can_see(delivery.destination.user, incident)
    if not incident.private:
        return True
    event = TimelineEvent.objects.filter(
        incident=incident, kind=TimelineEvent.Kind.STATUS_UPDATE, data__update=update.pk
    ).first()
    return may_tell_audiences(
        incident=incident,
        kind=update.kind,
        actor=update.created_by,
        source=event.source if event else TimelineEvent.Source.SYSTEM,
        addressed=bool(event and event.data.get("addressed") and event.data.get("private")),
    )


def _claim(delivery_id) -> tuple[Delivery | None, AttemptResult | None]:
    """Lock the row and decide: send now, or why not."""
    now = timezone.now()
    with transaction.atomic():
        # Lock the delivery and its destination (serialises Slack threads, sees a
        # destination disabled meanwhile) but not the update: every delivery of a
        # fan-out shares that row, and locking it serialised all the workers.
        # NO KEY UPDATE: the lock an UPDATE of these rows takes anyway; it does not
        # block new deliveries' foreign-key checks on the destination.
        delivery = (
            Delivery.objects.select_for_update(of=("self", "destination"), no_key=True)
            .select_related("destination__audience", "update__incident__severity")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status in (Status.SENT, Status.DEAD, Status.SKIPPED):
            return None, AttemptResult(delivery.status if delivery else "missing")
        if (
            delivery.status == Status.SENDING
            and delivery.lease_until
            and delivery.lease_until > now
        ):
            return None, AttemptResult(Status.SENDING)
        if delivery.next_attempt_at > now + EARLY_TOLERANCE:
            return None, AttemptResult(
                delivery.status, (delivery.next_attempt_at - now).total_seconds()
            )
        if not still_tellable(delivery):
            delivery.status = Status.SKIPPED
            delivery.last_error = "Not sent: the incident is private now."
            _save(delivery, "incident private", ["status", "last_error"])
            return None, AttemptResult(Status.SKIPPED)
        destination = delivery.destination
        if not destination.enabled:
            delivery.status = Status.DEAD
            delivery.last_error = f"Destination disabled: {destination.disabled_reason}"[:1000]
            _save(delivery, "destination disabled", ["status", "last_error"])
            return None, AttemptResult(Status.DEAD)
        pause = ChannelPause.objects.filter(kind=destination.kind).first()
        if pause is not None:
            delivery.status = Status.FAILED
            delivery.last_error = f"{destination.get_kind_display()} paused: {pause.reason}"[:1000]
            _save(delivery, "channel paused", ["status", "last_error"])
            return None, AttemptResult(Status.FAILED)
        # Before the breaker: a delivery that must wait its turn in the thread
        # must not take the half-open probe its predecessor needs.
        if destination.kind == Destination.Kind.SLACK:
            wait = _slack_thread_wait(delivery, now)
            if wait is not None:
                if wait > SERIALISE_DELAY_SECONDS:
                    # Waiting behind a backoff: say when it is next worth a look, so
                    # the sweeper does not re-enqueue it every round meanwhile. Like
                    # a claim, bookkeeping rather than an outcome: no history row.
                    Delivery.objects.filter(pk=delivery.pk).update(
                        next_attempt_at=now + timedelta(seconds=wait), updated_at=now
                    )
                return None, AttemptResult(delivery.status, wait)
        if not _half_open_probe(destination.pk):
            opened_until = breaker_open_until(destination.pk) or now + BREAKER_COOLDOWN
            fields = ["status", "next_attempt_at", "last_error"]
            if delivery.status == Status.FAILED and delivery.last_error == CIRCUIT_OPEN_ERROR:
                # Still waiting for the same open breaker: only the time of the next try
                # moves. One history row when the wait began says it all; a row per
                # cooldown wrote 1,056 rows for 360 deliveries in 150 s.
                delivery.next_attempt_at = opened_until
                delivery.save_without_historical_record(update_fields=[*fields, "updated_at"])
            else:
                delivery.status = Status.FAILED
                delivery.next_attempt_at = opened_until
                delivery.last_error = CIRCUIT_OPEN_ERROR
                _save(delivery, "circuit open", fields)
            return None, AttemptResult(Status.FAILED, (opened_until - now).total_seconds())
        delivery.status = Status.SENDING
        delivery.attempts += 1
        delivery.total_attempts += 1
        delivery.lease_until = now + timedelta(seconds=lease_seconds(destination.kind))
        _save(
            delivery,
            f"attempt {delivery.attempts}",
            ["status", "attempts", "total_attempts", "lease_until"],
        )
        return delivery, None


def _send(delivery: Delivery, *, context: dict | None = None) -> SendResult:
    destination = delivery.destination
    kind = destination.kind
    try:
        if kind == Destination.Kind.SLACK:
            # Stop calling Slack a margin before the lease ends: past it another
            # worker may take the delivery over.
            left = (delivery.lease_until - timezone.now()).total_seconds()
            deadline = time.monotonic() + left - LEASE_MARGIN_SECONDS
            return slack_channel.send(delivery, deadline=deadline)
        if kind == Destination.Kind.EMAIL:
            return email_channel.send(
                recipients=destination.target.split(","),
                subject=delivery.rendered_subject,
                body=delivery.rendered_text,
                delivery_id=str(delivery.pk),
                headers=email_channel.team_headers(
                    audience_slug=destination.audience.slug,
                    audience_name=destination.audience.name,
                    thread_root_id=delivery.thread_root_id and str(delivery.thread_root_id),
                ),
            )
        if kind == Destination.Kind.STATUSPAGE:
            return statuspage_channel.send(delivery)
        if kind == Destination.Kind.WEBHOOK:
            return webhook_channel.send(
                url=destination.target,
                secret=destination.secret,
                message_id=str(delivery.pk),
                payload=webhook_payload(delivery, context=context),
            )
    except Exception as exc:  # an adapter bug must not lose the delivery: retry and log it
        logger.exception("delivery %s: adapter %s raised", delivery.pk, kind)
        return SendResult.retry(f"{type(exc).__name__}: {exc}"[:500])
    return SendResult(Outcome.PERMANENT, error=f"Unknown destination kind {kind!r}")


def webhook_payload(delivery: Delivery, *, context: dict | None = None) -> dict:
    """The signed body; ``context`` (``rendering.context_for``) may be shared by the
    deliveries of one update."""
    update = delivery.update
    context = context or rendering.context_for(update)
    return {
        "type": f"incident.{update.kind}",
        "timestamp": update.created_at.isoformat(),
        "data": {
            "incident": {
                "id": update.incident_id,
                "title": context["title"],
                "severity": context["severity"],
                "stage": update.incident.stage,
                "url": context["url"],
            },
            "update": {
                "id": update.pk,
                "kind": update.kind,
                "message": update.message,
                "text": delivery.rendered_text,
                "public_status": update.public_status or None,
                "next_update_at": update.next_update_at.isoformat()
                if update.next_update_at
                else None,
            },
            "audience": delivery.destination.audience.slug,
        },
    }


@transaction.atomic
def _record(delivery_id, result: SendResult, *, attempt: int) -> AttemptResult:
    delivery = (
        Delivery.objects.select_for_update(of=("self",), no_key=True)
        .select_related("destination")
        .get(pk=delivery_id)
    )
    if delivery.status != Status.SENDING or delivery.attempts != attempt:
        # Our lease ran out and another worker (or a replay) owns the delivery now;
        # its outcome is the one that counts.
        logger.warning(
            "delivery %s: attempt %s finished after losing its lease; outcome %s dropped",
            delivery.pk,
            attempt,
            result.outcome,
        )
        return AttemptResult(delivery.status)
    return _apply_outcome(delivery, result)


_FAILURES = {
    Outcome.RETRY: Delivery.Failure.TRANSIENT,
    Outcome.PERMANENT: Delivery.Failure.PERMANENT,
    Outcome.GONE: Delivery.Failure.GONE,
    Outcome.CREDENTIALS: Delivery.Failure.CREDENTIALS,
}


def _apply_outcome(delivery: Delivery, result: SendResult) -> AttemptResult:
    """Write one send's outcome on a locked delivery (and its destination, breaker
    or channel pause); say whether and when to try again."""
    destination = delivery.destination
    now = timezone.now()
    delivery.lease_until = None
    fields = ["status", "lease_until", "last_error", "failure"]
    if result.outcome == Outcome.SENT:
        delivery.status = Status.SENT
        delivery.sent_at = now
        delivery.external_id = result.external_id[:255]
        delivery.last_error = ""
        delivery.failure = ""
        _save(delivery, "sent", [*fields, "sent_at", "external_id"])
        _breaker_record(destination.pk, success=True)
        return AttemptResult(Status.SENT)

    delivery.last_error = result.error[:1000]
    delivery.failure = _FAILURES[result.outcome]
    if result.outcome == Outcome.GONE:
        destination.enabled = False
        destination.disabled_reason = result.error[:1000]
        destination._change_reason = "disabled: destination gone"
        destination.save(update_fields=["enabled", "disabled_reason", "updated_at"])
        delivery.status = Status.DEAD
        _save(delivery, "destination gone", fields)
        return AttemptResult(Status.DEAD)
    if result.outcome == Outcome.CREDENTIALS:
        ChannelPause.objects.update_or_create(
            kind=destination.kind, defaults={"reason": result.error[:1000], "paused_at": now}
        )
        delivery.status = Status.FAILED
        _save(delivery, "channel paused", fields)
        return AttemptResult(Status.FAILED)
    # Only a transient failure counts against the destination's breaker: a permanent
    # one (a message that can never be sent) belongs to this row, not the destination.
    if result.outcome == Outcome.RETRY:
        _breaker_record(destination.pk, success=False, error=result.error)
    if result.outcome == Outcome.PERMANENT or delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = Status.DEAD
        _save(delivery, "dead", fields)
        logger.error(
            "delivery %s dead after %s attempts: %s", delivery.pk, delivery.attempts, result.error
        )
        return AttemptResult(Status.DEAD)

    wait = max(result.retry_after or 0.0, backoff_seconds(delivery.attempts))
    delivery.status = Status.FAILED
    delivery.next_attempt_at = now + timedelta(seconds=wait)
    _save(delivery, "retry scheduled", [*fields, "next_attempt_at"])
    return AttemptResult(Status.FAILED, wait)


def delivery_attempt(delivery_id) -> AttemptResult:
    """Claim, send (outside any transaction, with the adapter's timeout), record."""
    delivery, early = _claim(delivery_id)
    if early is not None:
        return early
    result = _send(delivery)
    logger.info(
        "delivery %s to %s attempt %s: %s %s",
        delivery.pk,
        delivery.destination,
        delivery.attempts,
        result.outcome,
        result.error,
    )
    return _record(delivery.pk, result, attempt=delivery.attempts)


BATCHABLE_KINDS = (Destination.Kind.WEBHOOK, Destination.Kind.EMAIL)
BATCH_SIZE = 50
SEND_THREADS = 16


def _send_in_thread(delivery: Delivery, context: dict) -> SendResult:
    try:
        return _send(delivery, context=context)
    finally:
        connections.close_all()  # this thread's own connections, if an adapter opened one


def deliveries_attempt_batch(delivery_ids: list) -> tuple[list[tuple], list]:
    """The fan-out fast path for webhooks and email: claim a batch in one
    transaction, send concurrently (the work is waiting on the network), record
    every success in one transaction.

    Returns ``([(delivery_id, AttemptResult), ...], fallback_ids)``. Whatever is
    not plainly claimable here — leased, not yet due, behind a tripped breaker,
    paused, disabled, another kind — is left to ``delivery_attempt``, which knows
    every case. Sends are idempotent (webhook-id, Message-ID) like the single path.
    """
    now = timezone.now()
    paused = set(ChannelPause.objects.values_list("kind", flat=True))
    dirty_breakers = set(
        CircuitBreaker.objects.exclude(
            consecutive_failures=0, opened_until=None, last_failure=""
        ).values_list("key", flat=True)
    )
    with transaction.atomic():
        candidates = list(
            Delivery.objects.select_for_update(of=("self",), no_key=True, skip_locked=True)
            .select_related("destination__audience", "update__incident__severity")
            .filter(
                pk__in=delivery_ids,
                status__in=[Status.PENDING, Status.FAILED],
                next_attempt_at__lte=now + EARLY_TOLERANCE,
                destination__enabled=True,
                destination__kind__in=BATCHABLE_KINDS,
            )
            .exclude(destination__kind__in=paused)
            # Private incidents take the single path, which re-checks visibility.
            .exclude(update__incident__private=True)
        )
        claimed = [d for d in candidates if _breaker_key(d.destination_id) not in dirty_breakers]
        lease_until = now + timedelta(seconds=settings.KEEL_DELIVERY_LEASE_SECONDS)
        for delivery in claimed:
            delivery.status = Status.SENDING
            delivery.attempts += 1
            delivery.total_attempts += 1
            delivery.lease_until = lease_until
            delivery.updated_at = now
        # A claim is bookkeeping, not an outcome: no history row (the outcome gets one).
        Delivery.objects.bulk_update(
            claimed, ["status", "attempts", "total_attempts", "lease_until", "updated_at"]
        )
    claimed_ids = {delivery.pk for delivery in claimed}
    fallback = [pk for pk in delivery_ids if _as_uuid(pk) not in claimed_ids]
    if not claimed:
        return [], fallback

    contexts: dict[int, dict] = {}
    for delivery in claimed:
        if delivery.update_id not in contexts:
            contexts[delivery.update_id] = rendering.context_for(delivery.update)
    with ThreadPoolExecutor(max_workers=min(SEND_THREADS, len(claimed))) as pool:
        results = list(pool.map(lambda d: _send_in_thread(d, contexts[d.update_id]), claimed))

    outcomes = []
    with transaction.atomic():
        locked = Delivery.objects.select_for_update(of=("self",), no_key=True).in_bulk(claimed_ids)
        done_at = timezone.now()
        sent = []
        for delivery, result in zip(claimed, results, strict=True):
            current = locked.get(delivery.pk)
            if current is None or current.status != Status.SENDING:
                continue  # replayed or swept meanwhile; its new owner records it
            if result.outcome == Outcome.SENT:
                delivery.status = Status.SENT
                delivery.sent_at = done_at
                delivery.external_id = result.external_id[:255]
                delivery.last_error = ""
                delivery.failure = ""
                delivery.lease_until = None
                delivery.updated_at = done_at
                delivery._change_reason = "sent"
                sent.append(delivery)
                outcomes.append((delivery.pk, AttemptResult(Status.SENT)))
            else:
                current.destination = delivery.destination
                outcomes.append((delivery.pk, _apply_outcome(current, result)))
        bulk_update_with_history(
            sent,
            Delivery,
            [
                "status",
                "sent_at",
                "external_id",
                "last_error",
                "failure",
                "lease_until",
                "updated_at",
            ],
            default_change_reason="sent",
        )
    return outcomes, fallback


def _as_uuid(value):
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


SWEEP_BATCH = 500


def deliveries_due(*, now=None) -> list:
    """Deliveries a lost task, a killed worker or a broker outage left behind."""
    now = now or timezone.now()
    paused = list(ChannelPause.objects.values_list("kind", flat=True))
    waiting = Delivery.objects.filter(
        status__in=[Status.PENDING, Status.FAILED],
        next_attempt_at__lte=now - timedelta(seconds=settings.KEEL_SWEEP_GRACE_SECONDS),
    ).exclude(destination__kind__in=paused)
    stale = Delivery.objects.filter(status=Status.SENDING, lease_until__lt=now)
    ids = list(waiting.values_list("pk", flat=True)[:SWEEP_BATCH])
    ids += list(stale.values_list("pk", flat=True)[:SWEEP_BATCH])
    return ids
