"""Team deliveries on the delivery engine (``notifications.engine``): one update
to one destination (Slack, email list, webhook, status page). What is theirs
alone is here: the private-incident gate at send time, a disabled destination,
one Slack message at a time per incident thread, the Slack attempt's short
lease, the webhook body. Claim, retry, breaker, pause, batch and sweep are the
engine's, shared with the status page's subscriber notifications.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from common import webhook_contracts
from incidents.models import TimelineEvent
from incidents.visibility import can_see, may_tell_audiences
from notifications import engine, rendering
from notifications.channels import email as email_channel
from notifications.channels import slack as slack_channel
from notifications.channels import slack_dm as slack_dm_channel
from notifications.channels import statuspage as statuspage_channel
from notifications.channels import webhook as webhook_channel
from notifications.channels.base import Outcome, SendResult
from notifications.engine import (  # noqa: F401  (the engine's names, as callers know them)
    BATCH_SIZE,
    BREAKER_COOLDOWN,
    BREAKER_THRESHOLD,
    CIRCUIT_OPEN_ERROR,
    AttemptResult,
)
from notifications.models import Delivery, Destination
from notifications.retry import OUTBOX

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = OUTBOX.max_attempts
SERIALISE_DELAY_SECONDS = 2.0
# A Slack attempt gets the time of this many calls (each bounded by
# KEEL_OUTBOUND_TIMEOUT_SECONDS; a normal attempt makes two or three) and stops
# calling Slack when it is up. Its lease is that plus LEASE_MARGIN_SECONDS (clock
# differences between workers), so a killed worker holds an incident's thread
# for ~20 s (5 s timeout) rather than the whole KEEL_DELIVERY_LEASE_SECONDS.
SLACK_ATTEMPT_CALLS = 4
LEASE_MARGIN_SECONDS = 1.0
BATCHABLE_KINDS = (Destination.Kind.WEBHOOK, Destination.Kind.EMAIL)
SLACK_DM_BREAKER_KEY = "slack:dm"

Status = Delivery.Status


def destination_breaker_key(destination: Destination) -> str:
    """Every email leaves through the one mail server: one breaker for all of it
    (the subscribers' email included). Other destinations each have their own."""
    if destination.kind == Destination.Kind.EMAIL:
        return email_channel.BREAKER_KEY
    if destination.kind == Destination.Kind.SLACK and destination.user_id is not None:
        # Every person's DM is the same Slack: one breaker, not one per person.
        return SLACK_DM_BREAKER_KEY
    return f"destination:{destination.pk}"


def breaker_open_until(destination_id: int):
    """When the breaker of this destination closes again, or None when it is closed."""
    destination = Destination.objects.filter(pk=destination_id).first()
    if destination is None:
        return None
    return engine.breaker_open_until(destination_breaker_key(destination))


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


# Update kinds added after receivers were written keep the event type they had
# (restoring and reopening are stage moves, a published postmortem was a manual
# update); ``data.update.kind`` tells them apart.
_WEBHOOK_EVENT_KIND = {"resolved": "stage", "reopened": "stage", "postmortem": "manual"}


def webhook_payload(delivery: Delivery, *, context: dict | None = None) -> dict:
    """The signed body; ``context`` (``rendering.context_for``) may be shared by the
    deliveries of one update."""
    update = delivery.update
    context = context or rendering.context_for(update)
    event = f"incident.{_WEBHOOK_EVENT_KIND.get(update.kind, update.kind)}"
    return {
        "type": event,
        # The contract's version (docs/events/<type>.json, common.webhook_contracts).
        "version": webhook_contracts.VERSIONS[event],
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


def _send(delivery: Delivery, context: dict) -> SendResult:
    destination = delivery.destination
    kind = destination.kind
    if kind == Destination.Kind.SLACK:
        # Stop calling Slack a margin before the lease ends: past it another
        # worker may take the delivery over.
        left = (delivery.lease_until - timezone.now()).total_seconds()
        deadline = time.monotonic() + left - LEASE_MARGIN_SECONDS
        if destination.user_id is not None:  # a personal notice: the person's DM
            return slack_dm_channel.send(delivery, deadline=deadline)
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
    return SendResult(Outcome.PERMANENT, error=f"Unknown destination kind {kind!r}")


class TeamDeliveries(engine.Producer):
    name = "delivery"
    model = Delivery
    channel_field = "destination__kind"
    batchable_kinds = BATCHABLE_KINDS

    def locked(self):
        # Lock the delivery and its destination (serialises Slack threads, sees a
        # destination disabled meanwhile) but not the update: every delivery of a
        # fan-out shares that row, and locking it serialised all the workers.
        # NO KEY UPDATE: the lock an UPDATE of these rows takes anyway; it does not
        # block new deliveries' foreign-key checks on the destination.
        return Delivery.objects.select_for_update(
            of=("self", "destination"), no_key=True
        ).select_related("destination__audience", "update__incident__severity")

    def batch_candidates(self, rows):
        return (
            rows.select_related("destination__audience", "update__incident__severity")
            .filter(destination__enabled=True)
            # Private incidents take the single path, which re-checks visibility.
            .exclude(update__incident__private=True)
        )

    def channel_kind(self, delivery) -> str:
        return delivery.destination.kind

    def incident_of(self, delivery):
        return delivery.update.incident

    def channel_label(self, delivery) -> str:
        return delivery.destination.get_kind_display()

    def breaker_key(self, delivery) -> str:
        return destination_breaker_key(delivery.destination)

    def hold(self, delivery, now):
        if not still_tellable(delivery):
            delivery.status = Status.SKIPPED
            delivery.last_error = "Not sent: the incident is private now."
            engine.save(delivery, "incident private", ["status", "last_error"])
            return AttemptResult(Status.SKIPPED)
        destination = delivery.destination
        if not destination.enabled:
            delivery.status = Status.DEAD
            delivery.last_error = f"Destination disabled: {destination.disabled_reason}"[:1000]
            engine.save(delivery, "destination disabled", ["status", "last_error"])
            return AttemptResult(Status.DEAD)
        return None

    def wait_turn(self, delivery, now):
        if delivery.destination.kind != Destination.Kind.SLACK:
            return None
        wait = _slack_thread_wait(delivery, now)
        if wait is None:
            return None
        if wait > SERIALISE_DELAY_SECONDS:
            # Waiting behind a backoff: say when it is next worth a look, so the
            # sweeper does not re-enqueue it every round meanwhile. Like a claim,
            # bookkeeping rather than an outcome: no history row.
            Delivery.objects.filter(pk=delivery.pk).update(
                next_attempt_at=now + timedelta(seconds=wait), updated_at=now
            )
        return AttemptResult(delivery.status, wait)

    def lease_seconds(self, delivery) -> float:
        return lease_seconds(delivery.destination.kind)

    def prepare(self, deliveries: list) -> dict:
        if all(d.destination.kind not in BATCHABLE_KINDS for d in deliveries):
            return {}
        contexts: dict[int, dict] = {}
        for delivery in deliveries:
            if delivery.update_id not in contexts:
                contexts[delivery.update_id] = rendering.context_for(delivery.update)
        return contexts

    def send(self, delivery, prepared: dict) -> SendResult:
        return _send(delivery, prepared.get(delivery.update_id))

    def on_gone(self, delivery, result: SendResult) -> None:
        destination = delivery.destination
        destination.enabled = False
        destination.disabled_reason = result.error[:1000]
        destination._change_reason = "disabled: destination gone"
        destination.save(update_fields=["enabled", "disabled_reason", "updated_at"])

    def send_messages(self, ids: list) -> list:
        from notifications.tasks import delivery_send_task  # the tasks import this module

        return [(delivery_send_task, (str(pk),)) for pk in ids]

    def describe(self, delivery) -> str:
        return str(delivery.destination)


DELIVERIES = engine.register(TeamDeliveries())


def delivery_attempt(delivery_id) -> AttemptResult:
    """Claim, send (outside any transaction, with the adapter's timeout), record."""
    return engine.attempt(DELIVERIES, delivery_id)


def deliveries_attempt_batch(delivery_ids: list) -> tuple[list[tuple], list]:
    """The fan-out fast path for webhooks and email (``engine.attempt_batch``)."""
    return engine.attempt_batch(DELIVERIES, delivery_ids)


def deliveries_due(*, now=None) -> list:
    """Deliveries a lost task, a killed worker or a broker outage left behind."""
    return engine.due(DELIVERIES, now=now)
