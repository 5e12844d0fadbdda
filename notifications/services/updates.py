"""Status updates and their outbox rows: one transaction writes the StatusUpdate,
its timeline event and one Delivery per (update, destination); the send tasks
are enqueued on commit. The request never waits on Slack, SMTP or a webhook
receiver."""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common.enqueue import enqueue_on_commit
from common.exceptions import ApplicationError, InvalidInput
from common.roles import require_responder
from incidents import live
from incidents.models import Incident, Severity, TimelineEvent
from incidents.timeline import timeline_record
from notifications import outbox, rendering, selectors
from notifications.channels import statuspage as statuspage_channel
from notifications.models import (
    AUTOMATIC_KINDS,
    MESSAGE_MAX,
    UPDATE_PUBLIC_STATUSES,
    Audience,
    Delivery,
    Destination,
    PublicStatus,
    StatusUpdate,
    UpdateKind,
)
from notifications.services.routing import (
    BUSINESS_AUDIENCE,
    PUBLIC_AUDIENCE,
    audiences_permitted,
    audiences_routed,
    chosen_audiences,
)
from notifications.tasks import deliveries_send_batch_task, delivery_send_task

logger = logging.getLogger(__name__)


def send_messages(delivery_ids: list, *, batchable_ids: list = ()) -> list:
    """Send tasks for new deliveries: one per delivery, and for webhooks and email
    one per batch of ``outbox.BATCH_SIZE``."""
    batchable = [str(pk) for pk in batchable_ids]
    return [
        (deliveries_send_batch_task, (batchable[start : start + outbox.BATCH_SIZE],))
        for start in range(0, len(batchable), outbox.BATCH_SIZE)
    ] + [(delivery_send_task, (str(pk),)) for pk in delivery_ids]


def _write_deliveries(
    update: StatusUpdate, audiences: Iterable[Audience], *, source: str, addressed: bool
) -> list:
    """Write one outbox row per destination of each audience, enqueued on commit.

    The visibility gate is checked here too, where rows are written, so no producer
    can reach a shared destination with a private incident by calling this directly."""
    audiences, withheld = audiences_permitted(
        incident=update.incident,
        audiences=list(audiences),
        kind=update.kind,
        actor=update.created_by,
        source=source,
        addressed=addressed,
    )
    if withheld:
        logger.warning(
            "update %s of private incident %s: no delivery to %s (not addressed by a participant)",
            update.pk,
            update.incident_id,
            ", ".join(a.slug for a in withheld),
        )
    now = timezone.now()
    rows = []
    # Every audience's destinations, with their thread roots, in one query.
    selectors.audience_destinations_prefetch(audiences, incident_id=update.incident_id)
    # Subject and text are rendered together, now: a retry or a replay sends what
    # the update said when it was written, whatever the incident has become since.
    for audience in audiences:
        text = rendering.render(update, audience)
        for destination in audience.destinations.all():
            root, subject = None, ""
            if destination.kind == Destination.Kind.EMAIL:
                root = destination.thread_root_pk
                subject = rendering.subject(update, reply=root is not None)
            rows.append(
                Delivery(
                    update=update,
                    destination=destination,
                    next_attempt_at=now,
                    rendered_text=text,
                    rendered_subject=subject,
                    thread_root_id=root,
                    status=Delivery.Status.PENDING
                    if destination.enabled
                    else Delivery.Status.SKIPPED,
                    last_error="" if destination.enabled else "Destination disabled.",
                )
            )
    Delivery.objects.bulk_create(rows)
    pending = [row for row in rows if row.status == Delivery.Status.PENDING]
    batchable = [row.pk for row in pending if row.destination.kind in outbox.BATCHABLE_KINDS]
    single = [row.pk for row in pending if row.destination.kind not in outbox.BATCHABLE_KINDS]
    enqueue_on_commit(send_messages(single, batchable_ids=batchable), what="send tasks")
    return rows


def update_check(
    *,
    incident: Incident,
    message: str,
    actor,
    audiences: list[str] | None = None,
    public_status: str = "",
    public_title: str = "",
    components: dict | None = None,
    public_resolved_action: str = "",
    public_impact: str = "",
    next_update_at: datetime | None = None,
    kind: str = UpdateKind.MANUAL,
    source: str = TimelineEvent.Source.WEB,
    components_by_name: bool = False,
    audience_rows: list[Audience] | None = None,
) -> dict:
    """Everything ``update_post`` refuses, checked without writing anything: the
    message, the audiences, and — when the public is addressed — the status page's
    own check (``channels.statuspage.check``, the one the worker runs again).

    Returns the cleaned values ``update_post`` writes: ``message``, ``audiences``
    (Audience rows allowed by the visibility gate), ``withheld``, ``addressed``,
    ``components`` (``{slug: status}``), ``public_title``, ``public_resolved_action``,
    ``public_impact``, the ``public_status``, ``next_update_at``, ``kind`` and
    ``source`` it was given and, when the public is addressed, ``public_plan``.
    ``audience_rows``: the audiences as rows the caller already read (the routing of
    an automatic update), addressed like ``audiences`` but not looked up again.
    """
    if actor is not None:  # None: the system's own updates (routing, the lifecycle)
        require_responder(actor, to="post status updates")
    message = (message or "").strip()
    if not message:
        raise InvalidInput("An update needs a message.", field="message")
    if len(message) > MESSAGE_MAX:
        raise InvalidInput(
            f"Ensure this field has no more than {MESSAGE_MAX} characters.", field="message"
        )
    if public_status and public_status not in UPDATE_PUBLIC_STATUSES:
        raise InvalidInput(f"Unknown public status '{public_status}'.", field="public_status")
    if next_update_at is not None and next_update_at <= timezone.now():
        raise InvalidInput(
            "The next update must be promised for the future.", field="next_update_at"
        )
    chosen = chosen_audiences(
        incident=incident,
        audiences=audiences,
        kind=kind,
        public_status=public_status,
        audience_rows=audience_rows,
    )
    # Visibility gate (incidents.visibility): a private incident reaches an audience only
    # when a participant addresses it; reminders, routing and automatic updates do not.
    # Named by the caller, not chosen by routing:
    addressed = audiences is not None or audience_rows is not None
    chosen, withheld = audiences_permitted(
        incident=incident,
        audiences=chosen,
        kind=kind,
        actor=actor,
        source=source,
        addressed=addressed,
    )
    cleaned = {
        "message": message,
        "audiences": chosen,
        "withheld": withheld,
        "addressed": addressed,
        "components": {},
        "public_title": (public_title or "").strip(),
        "public_resolved_action": "",
        "public_impact": "",
        "public_status": public_status,
        "next_update_at": next_update_at,
        "kind": kind,
        "source": source,
    }
    if any(a.slug == PUBLIC_AUDIENCE for a in chosen):
        plan = statuspage_channel.check(
            incident_id=incident.pk,
            public_status=public_status,
            public_title=public_title,
            components=components,
            resolved_action=public_resolved_action,
            components_by_name=components_by_name,
            impact=public_impact,
        )
        cleaned.update(
            components=plan.components,
            public_title=plan.public_title,
            public_resolved_action=plan.resolved_action,
            public_impact=plan.impact_override,
            public_plan=plan,
        )
    elif components:
        # Only the status page shows component statuses: dropping them quietly would
        # tell the responder the page changed when it did not.
        raise InvalidInput(
            "Component statuses are published only to the public status page: address "
            "the Public audience, or leave the components empty.",
            field="components",
        )
    elif public_impact:
        raise InvalidInput(
            "The impact is shown only on the public status page: address the Public "
            "audience, or leave the impact to the components.",
            field="public_impact",
        )
    return cleaned


def update_preview(*, incident: Incident, message: str, actor, **fields) -> dict:
    """Dry run of ``update_post`` (same arguments, same refusals): who would be told
    and what each status page component would show after it. Writes nothing."""
    cleaned = update_check(incident=incident, message=message, actor=actor, **fields)
    plan = cleaned.get("public_plan")
    return {
        "audiences": [
            {
                "slug": audience.slug,
                "name": audience.name,
                "destinations": [str(d) for d in audience.destinations.filter(enabled=True)],
            }
            for audience in cleaned["audiences"]
        ],
        "components": statuspage_channel.preview(
            plan=plan, public_status=fields.get("public_status", "")
        )
        if plan is not None
        else [],
        "public_impact": plan.impact if plan is not None else None,
    }


def _update_write(*, incident: Incident, message: str, actor, **fields) -> StatusUpdate:
    """Post a status update (``update_post``, atomic): writes the update, a timeline
    event and the outbox rows (one per destination of each audience), enqueued after commit.

    All or nothing: ``update_check`` runs first, and if any addressed audience
    cannot take the update (the status page would refuse it), nothing is written
    and nobody is sent anything. ``audiences`` are slugs; ``None`` lets the routing
    rules choose. ``components`` maps slugs or public ids (and names, with
    ``components_by_name``) to statuses; they are stored as slugs.
    ``fields``: the arguments of ``update_check``, which checks them.

    The update comes back with what it wrote (``selectors.update_as_posted``): an
    answer needs no second read.
    """
    cleaned = update_check(incident=incident, message=message, actor=actor, **fields)
    kind, source = cleaned["kind"], cleaned["source"]
    public_status, next_update_at = cleaned["public_status"], cleaned["next_update_at"]
    message, chosen = cleaned["message"], cleaned["audiences"]
    addressed, withheld = cleaned["addressed"], cleaned["withheld"]
    now = timezone.now()
    update = StatusUpdate.objects.create(
        incident=incident,
        kind=kind,
        message=message,
        public_status=public_status,
        public_title=cleaned["public_title"],
        public_resolved_action=cleaned["public_resolved_action"],
        public_impact=cleaned["public_impact"],
        components=cleaned["components"],
        next_update_at=next_update_at,
        created_by=actor,
        created_at=now,
    )
    # A new update has no audiences yet: the links are inserted, not diffed (``set``
    # would read them first).
    links = StatusUpdate.audiences.through
    links.objects.bulk_create(links(statusupdate=update, audience=a) for a in chosen)
    deliveries = _write_deliveries(update, chosen, source=source, addressed=addressed)
    # What an answer shows, kept for ``selectors.update_as_posted`` (not as the
    # update's prefetch cache: a caller keeping this copy reads its deliveries afresh).
    update.posted = (sorted(chosen, key=lambda audience: audience.pk), deliveries)
    if kind in AUTOMATIC_KINDS:
        return update  # the declare / stage / severity event is already on the timeline
    timeline_record(
        incident,
        kind=TimelineEvent.Kind.STATUS_UPDATE,
        actor=actor,
        source=source,
        at=now,
        text=message,
        data={
            "update": update.pk,
            "kind": kind,
            "audiences": [a.slug for a in chosen],
            "public_status": public_status,
            # Read again at send time (outbox._still_tellable): addressed, and knowingly
            # about a private incident, or not sent once the incident is private.
            "addressed": addressed,
            "private": incident.private,
            # Shown on the timeline: who was not told because the incident is private.
            **({"withheld": [a.slug for a in withheld]} if withheld else {}),
        },
    )
    live.incident_changed(incident)
    return update


# Its own transaction for callers that have none; ``updates_fan_out`` writes inside
# its caller's (a declare, a move) and needs no savepoint there.
update_post = transaction.atomic(_update_write)


def updates_fan_out(
    *,
    incident: Incident,
    kind: str,
    message: str,
    actor,
    source: str,
    previous_severity: Severity | None = None,
) -> None:
    """Automatic update on declare / stage / severity change, where the routing says so.

    One an alert made (declared, moved to recover, reopened) skips the business
    audience unless ``KEEL_ALERT_NOTIFY_BUSINESS``: a flapping alert must not email
    the business list; a responder's update reaches it."""
    audiences = audiences_routed(
        incident=incident, kind=kind, public=False, previous_severity=previous_severity
    )
    if source == TimelineEvent.Source.ALERT and not settings.KEEL_ALERT_NOTIFY_BUSINESS:
        audiences = [audience for audience in audiences if audience.slug != BUSINESS_AUDIENCE]
    if not audiences:
        return
    # Inside the caller's transaction (a declare, a move): no savepoint of its own.
    _update_write(
        incident=incident,
        message=message[:MESSAGE_MAX],
        actor=actor,
        audience_rows=audiences,
        kind=kind,
        source=source,
    )


# What the status page says when an incident closes other than resolved; a responder
# may say it in their own words (``public_message``).
PUBLIC_CLOSING_MESSAGES = {
    "false_alarm": "This was a false alarm: we found no impact on our services. "
    "We are sorry for any concern it caused.",
    "duplicate": "We are tracking this issue in another incident; "
    "further updates will be posted there.",
    "declined": "We have looked into this report: our services are operating normally "
    "and no further action is needed.",
}


def public_incident_resolve(
    *,
    incident: Incident,
    outcome: str,
    message: str,
    actor,
    source: str = TimelineEvent.Source.WEB,
) -> StatusUpdate | None:
    """An incident closed as a false alarm, a duplicate or declined: resolve its
    unresolved public incident, if the page shows one, with ``message`` (or the
    outcome's default wording). Writes a public update through the outbox; nothing
    when there is no public incident or it is already resolved."""
    try:
        plan = statuspage_channel.check(
            incident_id=incident.pk, public_status=PublicStatus.RESOLVED
        )
    except ApplicationError:
        # No public incident (one cannot start resolved) or no status page: nothing to say.
        return None
    if plan.state.resolved:
        return None
    try:
        return update_post(
            incident=incident,
            message=(message or "").strip() or PUBLIC_CLOSING_MESSAGES[outcome],
            actor=actor,
            audiences=[PUBLIC_AUDIENCE],
            public_status=PublicStatus.RESOLVED,
            kind=UpdateKind.MANUAL,
            source=source,
        )
    except ApplicationError as exc:
        raise InvalidInput(
            f"The status page message cannot be posted: {exc.message}", field="public_message"
        ) from exc
