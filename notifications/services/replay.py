"""Replaying a failed delivery (the same outbox row sent again), or saying in
plain words why it cannot be."""

import logging

from django.db import transaction
from django.utils import timezone

from common.enqueue import enqueue_on_commit
from common.exceptions import ApplicationError, InvalidInput
from common.roles import require_responder
from incidents.models import SHORT_TEXT_MAX, TimelineEvent
from incidents.timeline import timeline_record
from notifications import outbox, problems
from notifications.channels import statuspage as statuspage_channel
from notifications.models import (
    Delivery,
    Destination,
    StatusUpdate,
)
from notifications.services.updates import send_messages

logger = logging.getLogger(__name__)


class NeverDeliverable(InvalidInput):
    code = "never_deliverable"


def _statuspage_replayable(delivery: Delivery) -> None:
    """Refuse, with the reason, to replay a status page delivery that cannot succeed:
    the same payload would be refused again, or it would publish out of order."""
    update = delivery.update
    later = (
        StatusUpdate.objects.filter(
            incident_id=update.incident_id,
            public_update__isnull=False,
            created_at__gt=update.created_at,
        )
        .exclude(pk=update.pk)
        .exists()
    )
    if later:
        raise NeverDeliverable(
            "A later public update of this incident is already on the status page; "
            "replaying this one would show it out of order. Post a new public update "
            "instead.",
            field="delivery",
        )
    try:
        statuspage_channel.check_update(update)
    except ApplicationError as exc:
        raise NeverDeliverable(
            f"Replaying cannot help: the status page refuses this update ({exc.message}) "
            "Post a corrected public update instead.",
            field="delivery",
        ) from exc


def delivery_replay(*, delivery: Delivery, actor) -> Delivery:
    """Send a failed, dead or skipped delivery again (audited: history row + timeline
    event). ``attempts`` starts again from 0 (a fresh retry budget); ``total_attempts``
    is kept, so the Slack adapter still looks for what an earlier attempt may have
    posted (a reply stored by Slack whose answer was lost) before posting again.

    A replay that cannot succeed — its destination disabled or gone, the incident
    private now for that audience, a message refused for good by a destination that
    has not changed since, a paused channel, an open breaker, a status page update
    the page refuses — is refused with the reason and what fixes it
    (``NeverDeliverable``); the refusal is on the incident's timeline too."""
    try:
        return _delivery_replay(delivery=delivery, actor=actor)
    except NeverDeliverable as refusal:
        _replay_refusal_record(delivery=delivery, actor=actor, reason=refusal.message)
        raise


@transaction.atomic
def _replay_refusal_record(*, delivery: Delivery, actor, reason: str) -> None:
    logger.info("replay of delivery %s refused: %s", delivery.pk, reason)
    timeline_record(
        delivery.update.incident_id,
        kind=TimelineEvent.Kind.DELIVERY_REPLAY_REFUSED,
        actor=actor,
        source=TimelineEvent.Source.WEB,
        text=f"Replay of the delivery to {delivery.destination} refused: {reason}"[:SHORT_TEXT_MAX],
        data={"delivery": str(delivery.pk), "replay": False, "refused": reason[:SHORT_TEXT_MAX]},
    )


def _replay_refusal(delivery: Delivery) -> str:
    """Why replaying ``delivery`` (locked, its update, incident and destination
    loaded) cannot succeed now, or "" when it may."""
    destination = delivery.destination
    if not destination.enabled:
        reason = destination.disabled_reason or "no reason recorded"
        return f"{destination} is disabled ({reason}); re-enable it first."
    if not outbox.still_tellable(delivery):
        return (
            f"The incident is private now: {destination.audience.name} hears about it only "
            "from an update a participant addresses to it deliberately. Post one instead."
        )
    if destination.kind == Destination.Kind.STATUSPAGE:
        return ""  # the status page's own check decides (_statuspage_replayable)
    problem = problems.problem_of(delivery)
    if problem is not None and not problem.replayable:
        return f"{problem.reason}. {problem.action}"
    return ""


@transaction.atomic
def _delivery_replay(*, delivery: Delivery, actor) -> Delivery:
    require_responder(actor, to="replay deliveries")
    delivery = (
        Delivery.objects.select_for_update(of=("self",))
        .select_related("update__incident", "destination__audience")
        .get(pk=delivery.pk)
    )
    if delivery.status not in (
        Delivery.Status.FAILED,
        Delivery.Status.DEAD,
        Delivery.Status.SKIPPED,
    ):
        raise InvalidInput(
            f"Only failed or dead deliveries can be replayed; this one is {delivery.status}.",
            field="status",
        )
    refusal = _replay_refusal(delivery)
    if refusal:
        raise NeverDeliverable(refusal, field="delivery")
    if delivery.destination.kind == Destination.Kind.STATUSPAGE:
        _statuspage_replayable(delivery)
    delivery.status = Delivery.Status.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = timezone.now()
    delivery._history_user = actor
    delivery._change_reason = "replayed"
    delivery.save(update_fields=["status", "attempts", "next_attempt_at", "updated_at"])
    timeline_record(
        delivery.update.incident,
        kind=TimelineEvent.Kind.DELIVERY_REPLAYED,
        actor=actor,
        source=TimelineEvent.Source.WEB,
        text=f"Replayed delivery to {delivery.destination}",
        data={"delivery": str(delivery.pk), "replay": True},
    )
    enqueue_on_commit(send_messages([delivery.pk]), what="replayed delivery")
    return delivery
