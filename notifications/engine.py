"""The one delivery engine: claim a row with a lease, send it outside any
transaction, record the typed outcome. Retries follow one policy
(``notifications.retry``: backoff with jitter, ``Retry-After``); a circuit
breaker per remote end (state in the database, shared by every worker process)
stops hammering a dead one; bad credentials pause the whole channel after one
call; the sweeper finds what a lost task left behind; every outcome writes a
history row.

The engine is generic over its producers (``Producer``): team deliveries
(``notifications.outbox``) and status page subscriber notifications (registered
by the status page at start-up: ``notifications`` never imports ``statuspage``).
A producer says what its rows are about, how to send one, and what a row must
wait for; the engine decides everything else, the same way for both.

Every step is safe to repeat: a duplicate task finds the row already sent,
leased by another worker, or not yet due, and does nothing.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from common import logs
from common.enqueue import Message, publish, reschedule
from incidents import live
from notifications.breaker import (  # noqa: F401  (the engine's breaker, as callers know it)
    BREAKER_COOLDOWN,
    BREAKER_THRESHOLD,
    breaker_open_until,
    dirty_breakers,
    half_open_probe,
)
from notifications.breaker import record as breaker_record
from notifications.channels.base import Outcome, SendResult
from notifications.models import ChannelPause, OutboxMessage, OutboxStatus
from notifications.retry import OUTBOX, RetryPolicy

logger = logging.getLogger(__name__)

EARLY_TOLERANCE = timedelta(seconds=1)
CIRCUIT_OPEN_ERROR = "Circuit open: the destination failed repeatedly."
BATCH_SIZE = 50
SEND_THREADS = 16
SWEEP_BATCH = 500

Status = OutboxStatus
FINISHED = (Status.SENT, Status.DEAD, Status.SKIPPED)


@dataclass(frozen=True)
class AttemptResult:
    """What the task does next: nothing, or run again after ``retry_in`` seconds."""

    status: str
    retry_in: float | None = None


class Producer:
    """One kind of outbox row. Subclasses set the class attributes and the hooks."""

    name: str  # registry key
    model: type[OutboxMessage]
    channel_field: str  # lookup of the row's channel kind, e.g. "destination__kind"
    batchable_kinds: tuple[str, ...] = ("webhook", "email")
    retry: RetryPolicy = OUTBOX

    def locked(self) -> models.QuerySet:
        """The rows, locked for a claim, with what ``send`` reads joined."""
        raise NotImplementedError

    def batch_candidates(self, rows: models.QuerySet) -> models.QuerySet:
        """``rows`` narrowed to what the batched path may send without the single
        path's checks (anything else falls back to it)."""
        return rows

    def channel_kind(self, row) -> str:
        """The channel (``ChannelPause.kind``) the row leaves through."""
        raise NotImplementedError

    def channel_label(self, row) -> str:
        return self.channel_kind(row).capitalize()

    def breaker_key(self, row) -> str:
        """The remote end whose failures count together (``CircuitBreaker.key``)."""
        raise NotImplementedError

    def hold(self, row, now) -> AttemptResult | None:
        """Before the channel pause: a reason never to send this row (write it)."""
        return None

    def wait_turn(self, row, now) -> AttemptResult | None:
        """After the pause, before the breaker: a reason to send it later."""
        return None

    def lease_seconds(self, row) -> float:
        return float(settings.KEEL_DELIVERY_LEASE_SECONDS)

    def prepare(self, rows: list) -> dict:
        """What the sends of one batch share (rendered once, read by many threads)."""
        return {}

    def send(self, row, prepared: dict) -> SendResult:
        raise NotImplementedError

    def finish(self, prepared: dict) -> None:
        """The batch's sends are over: release what ``prepare`` opened (an SMTP
        session per send thread)."""

    def on_sent(self, row) -> None:
        """The row (locked, in the outcome's transaction) was sent."""

    def on_gone(self, row, result: SendResult) -> None:
        """The far end is gone for good (HTTP 410): disable what points at it."""

    def send_messages(self, ids: list) -> list[Message]:
        """The tasks that send these rows."""
        raise NotImplementedError

    def describe(self, row) -> str:
        return str(row)

    def incident_of(self, row):
        """The incident whose page shows this row's status (``None``: no page does)."""
        return None


def tell_live_pages(producer: Producer, rows) -> None:
    """After commit, the open pages of the rows' incidents hear that a status changed."""
    seen = set()
    for row in rows:
        incident = producer.incident_of(row)
        if incident is not None and incident.pk not in seen:
            seen.add(incident.pk)
            live.incident_changed(incident)


_producers: dict[str, Producer] = {}


def register(producer: Producer) -> Producer:
    _producers[producer.name] = producer
    return producer


def producers() -> list[Producer]:
    return list(_producers.values())


def producer_named(name: str) -> Producer:
    return _producers[name]


# ---- one row ----------------------------------------------------------------------


def save(row, reason: str, fields: list[str]) -> None:
    """Save ``fields`` with a history row saying ``reason``."""
    row._change_reason = reason[:100]
    row.save(update_fields=[*fields, "updated_at"])


def claim(producer: Producer, row_id) -> tuple[OutboxMessage | None, AttemptResult | None]:
    """Lock the row and decide: send now (the row, leased), or why not."""
    now = timezone.now()
    with transaction.atomic():
        row = producer.locked().filter(pk=row_id).first()
        if row is None or row.status in FINISHED:
            return None, AttemptResult(row.status if row else "missing")
        if row.status == Status.SENDING and row.lease_until and row.lease_until > now:
            return None, AttemptResult(Status.SENDING)
        if row.next_attempt_at > now + EARLY_TOLERANCE:
            return None, AttemptResult(row.status, (row.next_attempt_at - now).total_seconds())
        held = producer.hold(row, now)
        if held is not None:
            return None, held
        pause = ChannelPause.objects.filter(kind=producer.channel_kind(row)).first()
        if pause is not None:
            row.status = Status.FAILED
            row.last_error = f"{producer.channel_label(row)} paused: {pause.reason}"[:1000]
            save(row, "channel paused", ["status", "last_error"])
            tell_live_pages(producer, [row])
            return None, AttemptResult(Status.FAILED)
        # Before the breaker: a row that must wait its turn must not take the
        # half-open probe its predecessor needs.
        waiting = producer.wait_turn(row, now)
        if waiting is not None:
            return None, waiting
        key = producer.breaker_key(row)
        if not half_open_probe(key):
            opened_until = breaker_open_until(key) or now + BREAKER_COOLDOWN
            fields = ["status", "next_attempt_at", "last_error"]
            if row.status == Status.FAILED and row.last_error == CIRCUIT_OPEN_ERROR:
                # Still waiting for the same open breaker: only the time of the next try
                # moves. One history row when the wait began says it all; a row per
                # cooldown wrote 1,056 rows for 360 deliveries in 150 s.
                row.next_attempt_at = opened_until
                row.save_without_historical_record(update_fields=[*fields, "updated_at"])
            else:
                row.status = Status.FAILED
                row.next_attempt_at = opened_until
                row.last_error = CIRCUIT_OPEN_ERROR
                save(row, "circuit open", fields)
                tell_live_pages(producer, [row])
            return None, AttemptResult(Status.FAILED, (opened_until - now).total_seconds())
        row.status = Status.SENDING
        row.attempts += 1
        row.total_attempts += 1
        row.lease_until = now + timedelta(seconds=producer.lease_seconds(row))
        save(
            row, f"attempt {row.attempts}", ["status", "attempts", "total_attempts", "lease_until"]
        )
        return row, None


def send_safely(producer: Producer, row, prepared: dict) -> SendResult:
    try:
        return producer.send(row, prepared)
    except Exception as exc:  # an adapter bug must not lose the row: retry and log it
        logger.exception("%s %s: adapter raised", producer.name, row.pk)
        return SendResult.retry(f"{type(exc).__name__}: {exc}"[:500])


@transaction.atomic
def record(producer: Producer, row_id, result: SendResult, *, attempt: int) -> AttemptResult:
    row = producer.locked().get(pk=row_id)
    if row.status != Status.SENDING or row.attempts != attempt:
        # Our lease ran out and another worker (or a replay) owns the row now; its
        # outcome is the one that counts.
        logger.warning(
            "%s %s: attempt %s finished after losing its lease; outcome %s dropped",
            producer.name,
            row.pk,
            attempt,
            result.outcome,
        )
        return AttemptResult(row.status)
    return apply_outcome(producer, row, result)


_FAILURES = {
    Outcome.RETRY: OutboxMessage.Failure.TRANSIENT,
    Outcome.PERMANENT: OutboxMessage.Failure.PERMANENT,
    Outcome.GONE: OutboxMessage.Failure.GONE,
    Outcome.CREDENTIALS: OutboxMessage.Failure.CREDENTIALS,
}


def apply_outcome(producer: Producer, row, result: SendResult) -> AttemptResult:
    """Write one send's outcome on a locked row (and what it points at, the breaker
    or the channel pause); say whether and when to try again."""
    now = timezone.now()
    row.lease_until = None
    fields = ["status", "lease_until", "last_error", "failure"]
    tell_live_pages(producer, [row])  # every outcome below changes the row's status
    if result.outcome == Outcome.SENT:
        row.status = Status.SENT
        row.sent_at = now
        row.external_id = result.external_id[:255]
        row.last_error = ""
        row.failure = ""
        producer.on_sent(row)
        save(row, "sent", [*fields, "sent_at", "external_id"])
        breaker_record(producer.breaker_key(row), success=True)
        return AttemptResult(Status.SENT)

    row.last_error = result.error[:1000]
    row.failure = _FAILURES[result.outcome]
    if result.outcome == Outcome.GONE:
        producer.on_gone(row, result)
        row.status = Status.DEAD
        save(row, "destination gone", fields)
        return AttemptResult(Status.DEAD)
    if result.outcome == Outcome.CREDENTIALS:
        ChannelPause.objects.update_or_create(
            kind=producer.channel_kind(row),
            defaults={"reason": result.error[:1000], "paused_at": now},
        )
        row.status = Status.FAILED
        save(row, "channel paused", fields)
        return AttemptResult(Status.FAILED)
    # Only a transient failure counts against the breaker: a permanent one (a
    # message that can never be sent) belongs to this row, not the remote end.
    if result.outcome == Outcome.RETRY:
        breaker_record(producer.breaker_key(row), success=False, error=result.error)
    if result.outcome == Outcome.PERMANENT or producer.retry.exhausted(row.attempts):
        row.status = Status.DEAD
        save(row, "dead", fields)
        logger.error(
            "%s %s dead after %s attempts: %s", producer.name, row.pk, row.attempts, result.error
        )
        return AttemptResult(Status.DEAD)

    wait = producer.retry.wait(row.attempts, result.retry_after)
    row.status = Status.FAILED
    row.next_attempt_at = now + timedelta(seconds=wait)
    save(row, "retry scheduled", [*fields, "next_attempt_at"])
    return AttemptResult(Status.FAILED, wait)


def attempt(producer: Producer, row_id) -> AttemptResult:
    """Claim, send (outside any transaction, with the adapter's timeout), record."""
    row, early = claim(producer, row_id)
    if early is not None:
        return early
    prepared = producer.prepare([row])
    try:
        result = send_safely(producer, row, prepared)
    finally:
        producer.finish(prepared)
    logger.info(
        "%s %s (%s) attempt %s: %s %s",
        producer.name,
        row.pk,
        producer.describe(row),
        row.attempts,
        result.outcome,
        result.error,
    )
    return record(producer, row.pk, result, attempt=row.attempts)


# ---- the sweeper ---------------------------------------------------------------------


def due(producer: Producer, *, now=None) -> list:
    """Rows a lost task, a killed worker or a broker outage left behind."""
    now = now or timezone.now()
    paused = list(ChannelPause.objects.values_list("kind", flat=True))
    waiting = producer.model.objects.filter(
        status__in=[Status.PENDING, Status.FAILED],
        next_attempt_at__lte=now - timedelta(seconds=settings.KEEL_SWEEP_GRACE_SECONDS),
    ).exclude(**{f"{producer.channel_field}__in": paused})
    stale = producer.model.objects.filter(status=Status.SENDING, lease_until__lt=now)
    ids = list(waiting.values_list("pk", flat=True)[:SWEEP_BATCH])
    ids += list(stale.values_list("pk", flat=True)[:SWEEP_BATCH])
    return ids


# ---- the batched fast path -----------------------------------------------------------


def attempt_batch(producer: Producer, row_ids: list) -> tuple[list[tuple], list]:
    """Claim, send and record a batch of webhook and email rows: see
    ``notifications.batch``. Returns ``([(row_id, AttemptResult), ...], fallback_ids)``."""
    from notifications import batch  # it builds on this module

    return batch.attempt_batch(producer, row_ids)


# ---- the send tasks' bodies ----------------------------------------------------------


def attempt_task(producer: Producer, row_id, *, task, what: str) -> str:
    """What a producer's send task does with one row: an attempt logged under the row's
    id, and ``task`` run again when the outcome says when (rescheduled instead of
    sleeping: the worker slot is free meanwhile)."""
    with logs.bound(delivery_id=str(row_id)):
        result = attempt(producer, row_id)
    if result.retry_in is not None:
        reschedule(task, (row_id,), countdown=result.retry_in, what=what)
    return result.status


def attempt_batch_task(producer: Producer, row_ids: list, *, task, what: str) -> int:
    """What a producer's batch task does (``attempt_batch``): the rows it sent are done;
    ``task`` (the one-row send task) retries those that failed, when they are due, and
    takes those the batch could not claim."""
    outcomes, fallback = attempt_batch(producer, row_ids)
    publish(
        [
            (task, (str(row_id),), {"countdown": max(result.retry_in, 0.5)})
            for row_id, result in outcomes
            if result.retry_in is not None
        ]
        + [(task, (str(row_id),)) for row_id in fallback],
        what=what,
    )
    return len(outcomes)
