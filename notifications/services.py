"""Writes of the notifications app: status updates and their outbox rows.

One transaction writes the StatusUpdate, its timeline event and one Delivery
per (update, destination); the send tasks are enqueued on commit. The request
never waits on Slack, SMTP or a webhook receiver.
"""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from common.exceptions import InvalidInput, NotAllowed
from incidents.models import Incident, TimelineEvent
from incidents.permissions import can_drive_incidents, is_admin
from notifications import rendering
from notifications.models import (
    MESSAGE_MAX,
    Audience,
    CadenceReminder,
    ChannelPause,
    Delivery,
    PublicStatus,
    Route,
    StatusUpdate,
    UpdateKind,
)

PUBLIC_AUDIENCE = "public"
logger = logging.getLogger(__name__)


def audiences_routed(*, incident: Incident, kind: str, public: bool) -> list[Audience]:
    """Audiences whose active routes match the incident's severity, services and the update."""
    service_ids = [service.pk for service in incident.services.all()]
    routes = (
        Route.objects.filter(active=True, audience__active=True)
        .filter(Q(severities__isnull=True) | Q(severities=incident.severity_id))
        .filter(Q(services__isnull=True) | Q(services__in=service_ids))
        .select_related("audience")
        .distinct()
    )
    chosen: dict[int, Audience] = {}
    for route in routes:
        if route.update_kinds and kind not in route.update_kinds:
            continue
        if route.only_public_updates and not public:
            continue
        chosen[route.audience_id] = route.audience
    return sorted(chosen.values(), key=lambda audience: audience.pk)


def _enqueue(delivery_ids: list) -> None:
    from notifications.tasks import delivery_send_task

    for delivery_id in delivery_ids:
        try:
            delivery_send_task.delay(str(delivery_id))
        except Exception:  # broker down: the sweeper picks the delivery up later
            logger.warning("could not enqueue delivery %s; the sweeper will retry", delivery_id)


def _write_deliveries(update: StatusUpdate, audiences: Iterable[Audience]) -> list:
    now = timezone.now()
    rows = []
    for audience in audiences:
        text = rendering.render(update, audience)
        for destination in audience.destinations.all():
            rows.append(
                Delivery(
                    update=update,
                    destination=destination,
                    next_attempt_at=now,
                    rendered_text=text,
                    status=Delivery.Status.PENDING
                    if destination.enabled
                    else Delivery.Status.SKIPPED,
                    last_error="" if destination.enabled else "Destination disabled.",
                )
            )
    Delivery.objects.bulk_create(rows)
    pending = [row.pk for row in rows if row.status == Delivery.Status.PENDING]
    transaction.on_commit(lambda: _enqueue(pending))
    return rows


@transaction.atomic
def update_post(
    *,
    incident: Incident,
    message: str,
    actor,
    audiences: list[str] | None = None,
    public_status: str = "",
    public_title: str = "",
    components: dict | None = None,
    next_update_at: datetime | None = None,
    kind: str = UpdateKind.MANUAL,
    source: str = TimelineEvent.Source.WEB,
) -> StatusUpdate:
    """Post a status update: writes the update, a timeline event and the outbox
    rows (one per destination of each audience), enqueued after commit.

    ``audiences`` are slugs; ``None`` lets the routing rules choose.
    """
    if actor is not None and not can_drive_incidents(actor):
        raise NotAllowed("Only responders and admins can post status updates.")
    message = message.strip()
    if not message:
        raise InvalidInput("An update needs a message.", field="message")
    if len(message) > MESSAGE_MAX:
        raise InvalidInput(
            f"Ensure this field has no more than {MESSAGE_MAX} characters.", field="message"
        )
    if public_status and public_status not in PublicStatus.values:
        raise InvalidInput(f"Unknown public status '{public_status}'.", field="public_status")
    if next_update_at is not None and next_update_at <= timezone.now():
        raise InvalidInput(
            "The next update must be promised for the future.", field="next_update_at"
        )
    if audiences is None:
        chosen = audiences_routed(incident=incident, kind=kind, public=bool(public_status))
    else:
        found = {a.slug: a for a in Audience.objects.filter(slug__in=audiences, active=True)}
        unknown = sorted(set(audiences) - set(found))
        if unknown:
            raise InvalidInput(f"Unknown audience(s): {', '.join(unknown)}.", field="audiences")
        chosen = [found[slug] for slug in dict.fromkeys(audiences)]
    if any(a.slug == PUBLIC_AUDIENCE for a in chosen):
        if not public_status:
            raise InvalidInput("Updates to the public need a public status.", field="public_status")
        already_public = StatusUpdate.objects.filter(
            incident=incident, audiences__slug=PUBLIC_AUDIENCE
        ).exclude(public_title="")
        if not public_title.strip() and not already_public.exists():
            raise InvalidInput(
                "The first public update needs a public title.", field="public_title"
            )
    now = timezone.now()
    update = StatusUpdate.objects.create(
        incident=incident,
        kind=kind,
        message=message,
        public_status=public_status,
        public_title=public_title.strip(),
        components=components or {},
        next_update_at=next_update_at,
        created_by=actor,
        created_at=now,
    )
    update.audiences.set(chosen)
    _write_deliveries(update, chosen)
    TimelineEvent.objects.create(
        incident=incident,
        kind=TimelineEvent.Kind.STATUS_UPDATE,
        actor=actor,
        source=source,
        occurred_at=now,
        text=message,
        data={
            "update": update.pk,
            "kind": kind,
            "audiences": [a.slug for a in chosen],
            "public_status": public_status,
        },
    )
    return update


def updates_fan_out(*, incident: Incident, kind: str, message: str, actor, source: str) -> None:
    """Automatic update on declare / stage / severity change, where the routing says so."""
    audiences = audiences_routed(incident=incident, kind=kind, public=False)
    if not audiences:
        return
    update_post(
        incident=incident,
        message=message,
        actor=actor,
        audiences=[a.slug for a in audiences],
        kind=kind,
        source=source,
    )


@transaction.atomic
def delivery_replay(*, delivery: Delivery, actor) -> Delivery:
    """Send a failed or dead delivery again (audited: history row + timeline event)."""
    if not can_drive_incidents(actor):
        raise NotAllowed("Only responders and admins can replay deliveries.")
    delivery = (
        Delivery.objects.select_for_update()
        .select_related("update", "destination")
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
    if not delivery.destination.enabled:
        raise InvalidInput(
            f"{delivery.destination} is disabled ({delivery.destination.disabled_reason}); "
            "re-enable it first.",
            field="destination",
        )
    delivery.status = Delivery.Status.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = timezone.now()
    delivery._history_user = actor
    delivery._change_reason = "replayed"
    delivery.save(update_fields=["status", "attempts", "next_attempt_at", "updated_at"])
    TimelineEvent.objects.create(
        incident=delivery.update.incident,
        kind=TimelineEvent.Kind.STATUS_UPDATE,
        actor=actor,
        source=TimelineEvent.Source.WEB,
        occurred_at=timezone.now(),
        text=f"Replayed delivery to {delivery.destination}",
        data={"delivery": str(delivery.pk), "replay": True},
    )
    transaction.on_commit(lambda: _enqueue([delivery.pk]))
    return delivery


@transaction.atomic
def channel_resume(*, kind: str, actor) -> int:
    """Lift a channel pause (credentials fixed) and re-enqueue what it held back."""
    if not is_admin(actor):
        raise NotAllowed("Only admins can resume a paused channel.")
    ChannelPause.objects.filter(kind=kind).delete()
    held = list(
        Delivery.objects.filter(destination__kind=kind, status=Delivery.Status.FAILED).values_list(
            "pk", flat=True
        )
    )
    Delivery.objects.filter(pk__in=held).update(next_attempt_at=timezone.now())
    transaction.on_commit(lambda: _enqueue(held))
    return len(held)


def cadence_remind(*, now: datetime | None = None) -> int:
    """Beat: remind commander and communications lead about audiences overdue for
    an update, once per missed due time. Returns the number of reminders sent."""
    from notifications.cadence import cadence_for

    now = now or timezone.now()
    sent = 0
    for incident in Incident.objects.filter(closed_at__isnull=True).select_related(
        "severity", "commander", "communications_lead"
    ):
        for row in cadence_for(incident=incident, now=now):
            # Responders are in the incident; reminders are about the stakeholders.
            if not row.overdue or row.audience.slug == "responders":
                continue
            with transaction.atomic():
                _, created = CadenceReminder.objects.get_or_create(
                    incident=incident, audience=row.audience, due_at=row.due_at
                )
                if not created:
                    continue
                people = [p for p in (incident.commander, incident.communications_lead) if p]
                names = ", ".join(sorted({p.get_full_name() or p.get_username() for p in people}))
                minutes = int((now - row.due_at).total_seconds() // 60)
                update_post(
                    incident=incident,
                    message=(
                        f"Reminder for {names or 'the commander'}: {row.audience.name} was due "
                        f"an update {minutes} min ago "
                        f"({timezone.localtime(row.due_at):%H:%M %Z})."
                    ),
                    actor=None,
                    audiences=["responders"],
                    kind=UpdateKind.REMINDER,
                    source=TimelineEvent.Source.SYSTEM,
                )
                sent += 1
    return sent
