"""Writes of the notifications app: status updates and their outbox rows.

One transaction writes the StatusUpdate, its timeline event and one Delivery
per (update, destination); the send tasks are enqueued on commit. The request
never waits on Slack, SMTP or a webhook receiver.
"""

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from common.enqueue import enqueue_on_commit
from common.exceptions import ApplicationError, InvalidInput, NotAllowed
from common.roles import can_drive_incidents, is_admin
from incidents import live
from incidents.models import SHORT_TEXT_MAX, Incident, Severity, TimelineEvent
from incidents.timeline import timeline_record
from incidents.visibility import may_tell_audiences
from notifications import engine, outbox, problems, rendering, selectors
from notifications.channels import statuspage as statuspage_channel
from notifications.models import (
    AUTOMATIC_KINDS,
    MESSAGE_MAX,
    Audience,
    CadenceReminder,
    ChannelPause,
    Delivery,
    Destination,
    PublicStatus,
    Route,
    StatusUpdate,
    UpdateKind,
    WorkerHeartbeat,
)
from notifications.notices import (  # noqa: F401  (the entry points other apps call)
    action_item_assigned_notify,
    action_item_due_notify,
    role_assigned_notify,
    update_due_notify,
)

PUBLIC_AUDIENCE = "public"
BUSINESS_AUDIENCE = "business"
logger = logging.getLogger(__name__)


def audiences_routed(
    *, incident: Incident, kind: str, public: bool, previous_severity: Severity | None = None
) -> list[Audience]:
    """Audiences whose active routes match the incident's severity, services and the update.

    A severity change also matches the routes of the severity it left
    (``previous_severity``): an audience told about a SEV2 hears that it is now a SEV3.
    A private incident (e.g. security) is routed nowhere: its title must not reach
    shared channels and lists unless a responder addresses an audience deliberately."""
    if incident.private:
        return []
    # The incident's services as a subquery: the routes are read in one query, and
    # the services themselves only where a message names them (``rendering``).
    service_ids = Incident.services.through.objects.filter(incident_id=incident.pk).values(
        "service_id"
    )
    severity_ids = [incident.severity_id]
    if previous_severity is not None:
        severity_ids.append(previous_severity.pk)
    return audiences_matching(
        severity_ids=severity_ids,
        service_ids=service_ids,
        kind=kind,
        public=public,
    )


def audiences_matching(
    *, severity_ids: list[int], service_ids, kind: str, public: bool
) -> list[Audience]:
    """The routing rule itself: audiences whose active routes match these severities,
    services and update (also Settings' "who would be told?" preview)."""
    routes = (
        Route.objects.filter(active=True, audience__active=True)
        .filter(Q(severities__isnull=True) | Q(severities__in=severity_ids))
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


def _send_messages(delivery_ids: list, *, batchable_ids: list = ()) -> list:
    """Send tasks for new deliveries: one per delivery, and for webhooks and email
    one per batch of ``outbox.BATCH_SIZE``."""
    from notifications.tasks import deliveries_send_batch_task, delivery_send_task

    batchable = [str(pk) for pk in batchable_ids]
    return [
        (deliveries_send_batch_task, (batchable[start : start + outbox.BATCH_SIZE],))
        for start in range(0, len(batchable), outbox.BATCH_SIZE)
    ] + [(delivery_send_task, (str(pk),)) for pk in delivery_ids]


def _audiences_permitted(
    *,
    incident: Incident,
    audiences: list[Audience],
    kind: str,
    actor,
    source: str,
    addressed: bool,
) -> tuple[list[Audience], list[Audience]]:
    """``(allowed, withheld)`` under the private-incident rule of ``incidents.visibility``."""
    if not audiences or may_tell_audiences(
        incident=incident, kind=kind, actor=actor, source=source, addressed=addressed
    ):
        return list(audiences), []
    return [], list(audiences)


def _write_deliveries(
    update: StatusUpdate, audiences: Iterable[Audience], *, source: str, addressed: bool
) -> list:
    """Write one outbox row per destination of each audience, enqueued on commit.

    The visibility gate is checked here too, where rows are written, so no producer
    can reach a shared destination with a private incident by calling this directly."""
    audiences, withheld = _audiences_permitted(
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
    enqueue_on_commit(_send_messages(single, batchable_ids=batchable), what="send tasks")
    return rows


def _chosen_audiences(
    *, incident: Incident, audiences, kind: str, public_status: str, audience_rows=None
):
    if audience_rows is not None:
        return list(audience_rows)
    if audiences is None:
        return audiences_routed(incident=incident, kind=kind, public=bool(public_status))
    if not isinstance(audiences, list | tuple):
        raise InvalidInput("audiences must be a list of audience slugs.", field="audiences")
    found = {a.slug: a for a in Audience.objects.filter(slug__in=audiences, active=True)}
    unknown = sorted(set(audiences) - set(found))
    if unknown:
        valid = ", ".join(Audience.objects.filter(active=True).values_list("slug", flat=True))
        raise InvalidInput(
            f"Unknown audience(s): {', '.join(unknown)}. Valid audiences: {valid}.",
            field="audiences",
        )
    return [found[slug] for slug in dict.fromkeys(audiences)]


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
    ``public_impact`` and, when the public is addressed, ``public_plan``.
    ``audience_rows``: the audiences as rows the caller already read (the routing of
    an automatic update), addressed like ``audiences`` but not looked up again.
    """
    if actor is not None and not can_drive_incidents(actor):
        raise NotAllowed("Only responders and admins can post status updates.")
    message = (message or "").strip()
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
    chosen = _chosen_audiences(
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
    chosen, withheld = _audiences_permitted(
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


def _update_write(
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
) -> StatusUpdate:
    """Post a status update (``update_post``, atomic): writes the update, a timeline
    event and the outbox rows (one per destination of each audience), enqueued after commit.

    All or nothing: ``update_check`` runs first, and if any addressed audience
    cannot take the update (the status page would refuse it), nothing is written
    and nobody is sent anything. ``audiences`` are slugs; ``None`` lets the routing
    rules choose. ``components`` maps slugs or public ids (and names, with
    ``components_by_name``) to statuses; they are stored as slugs.
    ``audience_rows``: see ``update_check``.

    The update comes back with what it wrote (``selectors.update_as_posted``): an
    answer needs no second read.
    """
    cleaned = update_check(
        incident=incident,
        message=message,
        actor=actor,
        audiences=audiences,
        public_status=public_status,
        public_title=public_title,
        components=components,
        public_resolved_action=public_resolved_action,
        public_impact=public_impact,
        next_update_at=next_update_at,
        kind=kind,
        source=source,
        components_by_name=components_by_name,
        audience_rows=audience_rows,
    )
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
    if not can_drive_incidents(actor):
        raise NotAllowed("Only responders and admins can replay deliveries.")
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
    enqueue_on_commit(_send_messages([delivery.pk]), what="replayed delivery")
    return delivery


@transaction.atomic
def channel_resume(*, kind: str, actor) -> int:
    """Lift a channel pause (credentials fixed) and re-enqueue what it held back:
    team deliveries and subscriber notifications of that channel alike."""
    if not is_admin(actor):
        raise NotAllowed("Only admins can resume a paused channel.")
    ChannelPause.objects.filter(kind=kind).delete()
    now = timezone.now()
    resumed = 0
    for producer in engine.producers():
        held = list(
            producer.model.objects.filter(
                **{producer.channel_field: kind}, status=Delivery.Status.FAILED
            )
        )
        for row in held:
            row.next_attempt_at = now
            row.updated_at = now
        bulk_update_with_history(
            held,
            producer.model,
            ["next_attempt_at", "updated_at"],
            default_user=actor,
            default_change_reason="channel resumed",
        )
        ids = [row.pk for row in held]
        enqueue_on_commit(producer.send_messages(ids), what=f"resumed {producer.name} rows")
        resumed += len(ids)
    return resumed


def cadence_remind(*, now: datetime | None = None) -> int:
    """Beat: remind commander and communications lead about audiences overdue for
    an update, once per missed due time: in the responders' thread, and to the
    communications lead (else the commander) as a personal notice. Returns the
    number of reminders sent.

    A private incident's reminder is a status update that goes to no audience: the
    visibility gate in ``update_post`` withholds it, so it is only on the incident's
    page and timeline (the responders' channel is shared and would show the title)."""
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
                        f"({row.due_at.astimezone(UTC):%H:%M %Z})."
                    ),
                    actor=None,
                    audiences=["responders"],
                    kind=UpdateKind.REMINDER,
                    source=TimelineEvent.Source.SYSTEM,
                )
                # And the person who owes it, directly (a private incident's too:
                # they may see it, the responders' channel is withheld).
                update_due_notify(
                    incident=incident,
                    audience_name=row.audience.name,
                    audience_slug=row.audience.slug,
                    due_at=row.due_at,
                    now=now,
                )
                sent += 1
    return sent


@transaction.atomic
def destination_create(
    *, audience_slug: str, kind: str, name: str, target: str, actor=None
) -> tuple[Destination, str]:
    """Add a channel to an audience; returns it with its webhook secret (shown once).
    Webhook URLs are validated (http(s), no private addresses unless allowed)."""
    from notifications.channels.webhook import validate_url

    audience = Audience.objects.filter(slug=audience_slug).first()
    if audience is None:
        raise InvalidInput(f"Unknown audience '{audience_slug}'.", field="audience")
    if kind not in Destination.Kind.values:
        raise InvalidInput(f"Unknown destination kind '{kind}'.", field="kind")
    if kind == Destination.Kind.WEBHOOK:
        validate_url(target, resolve=False)
    existing = Destination.objects.filter(audience=audience, kind=kind, target=target).first()
    if existing is not None:
        return existing, ""
    secret = Destination.new_secret() if kind == Destination.Kind.WEBHOOK else ""
    destination = Destination(audience=audience, kind=kind, name=name, target=target, secret=secret)
    destination._history_user = actor
    destination._change_reason = "destination added"
    destination.save()
    return destination, secret


# ---- worker heartbeat -------------------------------------------------------

HEARTBEAT_FORGET_AFTER = timedelta(days=1)


def worker_heartbeat_record(*, hostname: str, actor=None, at: datetime | None = None) -> None:
    """Stamp this worker host as seen now; forget hosts silent for a day (a redeploy
    renames every container). No history: a heartbeat is a reading, not a change."""
    at = at or timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        hostname=(hostname or "unknown")[:255], defaults={"seen_at": at}
    )
    WorkerHeartbeat.objects.filter(seen_at__lt=at - HEARTBEAT_FORGET_AFTER).delete()


@transaction.atomic
def routes_default_ensure(*, actor=None) -> list[Route]:
    """Create each default route (``notifications.defaults``) that is missing, by
    name; routes that exist, edited or not, are left as they are. Returns those created."""
    from notifications.defaults import DEFAULT_ROUTES

    created = []
    for default in DEFAULT_ROUTES:
        if Route.objects.filter(name=default.name).exists():
            continue
        route = Route(
            name=default.name,
            audience=Audience.objects.get(slug=default.audience),
            update_kinds=list(default.update_kinds),
            only_public_updates=default.only_public_updates,
        )
        route._history_user = actor
        route._change_reason = "default route"
        route.save()
        if default.severities:
            route.severities.set(Severity.objects.filter(code__in=default.severities))
        created.append(route)
    return created
