"""Writes of the notifications app: status updates and their outbox rows.

One transaction writes the StatusUpdate, its timeline event and one Delivery
per (update, destination); the send tasks are enqueued on commit. The request
never waits on Slack, SMTP or a webhook receiver.
"""

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from common.exceptions import ApplicationError, InvalidInput, NotAllowed
from incidents import lifecycle, live
from incidents.models import SHORT_TEXT_MAX, Incident, Severity, TimelineEvent
from incidents.permissions import can_drive_incidents, is_admin
from incidents.visibility import incidents_visible_to, may_tell_audiences
from notifications import engine, outbox, problems, rendering, selectors
from notifications.channels import statuspage as statuspage_channel
from notifications.enqueue import enqueue_on_commit, publish
from notifications.models import (
    AUTOMATIC_KINDS,
    MESSAGE_MAX,
    Audience,
    CadenceReminder,
    ChannelPause,
    Delivery,
    Destination,
    IncidentSlackChannel,
    PublicStatus,
    Route,
    SlackRequest,
    StatusUpdate,
    UpdateKind,
    WorkerHeartbeat,
)
from notifications.notices import (  # noqa: F401  (the entry points other apps call)
    action_item_assigned_notify,
    action_items_due_notify,
    role_assigned_notify,
    update_due_notify,
)
from notifications.slack import inbound

PUBLIC_AUDIENCE = "public"
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
    """Automatic update on declare / stage / severity change, where the routing says so."""
    audiences = audiences_routed(
        incident=incident, kind=kind, public=False, previous_severity=previous_severity
    )
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
    TimelineEvent.objects.create(
        incident_id=delivery.update.incident_id,
        kind=TimelineEvent.Kind.STATUS_UPDATE,
        actor=actor,
        source=TimelineEvent.Source.WEB,
        occurred_at=timezone.now(),
        text=f"Replay of the delivery to {delivery.destination} refused: {reason}"[:SHORT_TEXT_MAX],
        data={"delivery": str(delivery.pk), "replay": False, "refused": reason[:SHORT_TEXT_MAX]},
    )
    live.incident_changed(delivery.update.incident_id)


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
    TimelineEvent.objects.create(
        incident=delivery.update.incident,
        kind=TimelineEvent.Kind.STATUS_UPDATE,
        actor=actor,
        source=TimelineEvent.Source.WEB,
        occurred_at=timezone.now(),
        text=f"Replayed delivery to {delivery.destination}",
        data={"delivery": str(delivery.pk), "replay": True},
    )
    live.incident_changed(delivery.update.incident)
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


# ---- Slack inbound: slash commands and announcement buttons ----------------


def _slack_enqueue(slack_request) -> None:
    from notifications.tasks import slack_request_handle_task

    if not publish([(slack_request_handle_task, (slack_request.pk,))], what="Slack request"):
        # Say so now: Slack does not retry a request it got a 200 for.
        slack_request.status = SlackRequest.Status.FAILED
        slack_request.reply = "Keel could not queue this right now. Please try again in a minute."
        slack_request.finished_at = timezone.now()
        slack_request.save(update_fields=["status", "reply", "finished_at"])


def slack_request_receive(
    *,
    kind: str,
    team_id: str,
    dedupe_key: str,
    slack_user_id: str,
    payload: dict,
    retry_num: int = 0,
) -> tuple[SlackRequest, bool]:
    """Record a verified Slack request and enqueue its handling after commit.

    Returns ``(request, created)``; a retried delivery (same team and trigger)
    finds the first one and enqueues nothing. If the broker refuses the task the
    request is marked failed with a reply saying so.
    """
    try:
        with transaction.atomic():
            slack_request = SlackRequest.objects.create(
                kind=kind,
                team_id=team_id[:32],
                dedupe_key=dedupe_key[:255],
                slack_user_id=slack_user_id[:32],
                payload=payload,
                retries_seen=min(retry_num, 100),
                received_at=timezone.now(),
            )
            transaction.on_commit(lambda: _slack_enqueue(slack_request))
    except IntegrityError:
        # A concurrent duplicate blocks on the unique index until the first commits.
        existing = SlackRequest.objects.get(team_id=team_id[:32], dedupe_key=dedupe_key[:255])
        SlackRequest.objects.filter(pk=existing.pk).update(retries_seen=F("retries_seen") + 1)
        logger.info("Slack retry %s of request %s ignored", retry_num, existing.pk)
        return existing, False
    return slack_request, True


def _visible_incident(actor, incident_id: int) -> Incident:
    incident = incidents_visible_to(actor).filter(pk=incident_id).first()
    if incident is None:
        raise InvalidInput(f"Incident #{incident_id} does not exist or is not visible to you.")
    return incident


def _display_name(user) -> str:
    return user.get_full_name() or user.get_username()


def _slack_command_apply(command: inbound.Command, actor) -> str:
    from incidents import services as incident_services

    slack = TimelineEvent.Source.SLACK
    if command.action == "declare":
        severity = Severity.objects.filter(code__iexact=command.severity).first()
        if severity is None:
            known = ", ".join(Severity.objects.order_by("rank").values_list("code", flat=True))
            raise InvalidInput(f"Unknown severity '{command.severity}'; known: {known}.")
        incident = incident_services.incident_declare(
            title=command.title, severity=severity, actor=actor, source=slack
        )
        return (
            f"Declared #{incident.pk} {severity.code}: {incident.title}\n"
            f"{rendering.incident_url(incident.pk)}"
        )
    incident = _visible_incident(actor, command.incident_id)
    if command.action == "update":
        update = update_post(
            incident=incident,
            message=command.message,
            actor=actor,
            source=slack,
            audiences=list(command.audiences) or None,
            public_status=command.public_status,
            public_title=command.public_title,
            components=dict(command.components) or None,
            public_resolved_action=command.public_resolved_action,
            components_by_name=True,
        )
        held = problems.held_for(update)
        # "Posted" only for an audience with a destination that takes the update.
        fully_held = {p.delivery.destination.audience_id for p in held} - {
            d.destination.audience_id
            for d in update.deliveries.select_related("destination")
            if d.pk not in {p.delivery.pk for p in held}
        }
        nobody = (
            "private incident: on its timeline only" if incident.private else "no audience routed"
        )
        audiences = (
            ", ".join(a.slug for a in update.audiences.all() if a.pk not in fully_held) or nobody
        )
        notes = "".join(f" Held for {p.audience}: {p.reason}. {p.action}" for p in held)
        return f"Posted an update on #{incident.pk} ({audiences}).{notes}"
    incident = incident_services.incident_move(
        incident=incident, to=command.stage, note=command.note, actor=actor, source=slack
    )
    return f"#{incident.pk} is now in {incident.get_stage_display()}."


def _slack_interaction_apply(interaction: inbound.Interaction, actor) -> str:
    from incidents import services as incident_services

    slack = TimelineEvent.Source.SLACK
    incident = _visible_incident(actor, interaction.incident_id)
    if interaction.action == "acknowledge":
        if incident.responders.filter(pk=actor.pk).exists():
            return f"You are already a responder on #{incident.pk}."
        incident_services.incident_assign_role(
            incident=incident, role="responder", user=actor, actor=actor, source=slack
        )
        incident_services.note_add(
            incident=incident,
            text=f"Acknowledged in Slack by {_display_name(actor)}.",
            actor=actor,
            source=slack,
        )
        return f"You are now a responder on #{incident.pk}."
    target = interaction.stage
    if not target:
        position = lifecycle.ORDER.index(incident.stage)
        if position + 1 >= len(lifecycle.ORDER):
            raise lifecycle.IllegalStageMove(f"#{incident.pk} is already in the last stage.")
        target = lifecycle.ORDER[position + 1]
    incident = incident_services.incident_move(
        incident=incident, to=target, actor=actor, source=slack
    )
    return f"#{incident.pk} is now in {incident.get_stage_display()}."


@transaction.atomic
def slack_request_apply(*, slack_request: SlackRequest, actor, refusal: str = "") -> SlackRequest:
    """Carry out a received Slack request once: lock it, check it is still
    ``received``, run the domain service as ``actor`` and store the reply.

    ``refusal`` (e.g. the Slack user has no Keel account) refuses without acting.
    Domain errors roll back the domain write and become the reply.
    """
    slack_request = SlackRequest.objects.select_for_update().get(pk=slack_request.pk)
    if slack_request.status != SlackRequest.Status.RECEIVED:
        return slack_request  # a duplicate task: the first one acted
    Status = SlackRequest.Status
    if refusal:
        status, reply = Status.REFUSED, refusal
    elif actor is None or not can_drive_incidents(actor):
        status = Status.REFUSED
        reply = (
            f"Your Keel account ({actor.get_username() if actor else '?'}) can view incidents "
            "but not change them. Ask an admin for the Responders role."
        )
    else:
        payload = slack_request.payload
        try:
            with transaction.atomic():
                if slack_request.kind == SlackRequest.Kind.COMMAND:
                    reply = _slack_command_apply(
                        inbound.Command.from_payload(payload["command"]), actor
                    )
                else:
                    reply = _slack_interaction_apply(
                        inbound.Interaction(**payload["interaction"]), actor
                    )
            status = Status.DONE
        except ApplicationError as exc:
            status, reply = Status.FAILED, f"Keel could not do that: {exc.message}"
    slack_request.status = status
    slack_request.reply = reply[:MESSAGE_MAX]
    slack_request.actor = actor
    slack_request.finished_at = timezone.now()
    slack_request.save(update_fields=["status", "reply", "actor", "finished_at"])
    return slack_request


def slack_request_replied(*, slack_request: SlackRequest) -> None:
    """Remember the reply reached Slack, so a repeated task does not answer twice."""
    SlackRequest.objects.filter(pk=slack_request.pk).update(replied_at=timezone.now())


# ---- a Slack channel of the incident's own ---------------------------------


def _slack_channel_enqueue(incident_id: int) -> None:
    from notifications.tasks import incident_slack_channel_open_task

    # Broker down: the channel stays visibly pending; asking again retries.
    publish([(incident_slack_channel_open_task, (incident_id,))], what="Slack channel")


@transaction.atomic
def incident_slack_channel_open(*, incident: Incident, actor) -> tuple[IncidentSlackChannel, bool]:
    """Ask for the incident's own Slack channel. Writes a ``pending`` row (or
    re-arms a failed one) and enqueues the worker after commit.

    Returns ``(channel, queued)``: nothing is queued when the channel is ready.
    """
    if not can_drive_incidents(actor):
        raise NotAllowed("Only responders and admins can open an incident's Slack channel.")
    channel, _ = IncidentSlackChannel.objects.select_for_update().get_or_create(
        incident=incident,
        defaults={
            "name": inbound.channel_name(incident.pk, incident.title),
            "requested_by": actor,
        },
    )
    if channel.status == IncidentSlackChannel.Status.READY:
        return channel, False
    if channel.status == IncidentSlackChannel.Status.FAILED:
        channel.status = IncidentSlackChannel.Status.PENDING
        channel.last_error = ""
        channel.requested_by = actor
        channel.save(update_fields=["status", "last_error", "requested_by", "updated_at"])
    incident_id = incident.pk
    transaction.on_commit(lambda: _slack_channel_enqueue(incident_id))
    return channel, True


def incident_slack_channel_claim(*, incident_id: int, lease_seconds: int):
    """Lease the pending channel row to one worker; None when there is nothing to do
    (ready, failed, unknown, or another worker holds the lease)."""
    now = timezone.now()
    with transaction.atomic():
        channel = (
            IncidentSlackChannel.objects.select_for_update(of=("self",))
            .select_related("incident", "incident__severity", "incident__commander")
            .filter(incident_id=incident_id)
            .first()
        )
        if channel is None or channel.status != IncidentSlackChannel.Status.PENDING:
            return None
        if channel.lease_until and channel.lease_until > now:
            return None
        channel.lease_until = now + timedelta(seconds=lease_seconds)
        channel.save(update_fields=["lease_until", "updated_at"])
        return channel


@transaction.atomic
def incident_slack_channel_progress(
    *,
    channel: IncidentSlackChannel,
    channel_id: str = "",
    announcement_ts: str = "",
    invited: list[str] | None = None,
    error: str = "",
    failed: bool = False,
) -> IncidentSlackChannel:
    """Record a worker's progress. When the channel exists, everyone is invited and
    the announcement is posted, the row becomes ``ready`` and the timeline says so."""
    channel = IncidentSlackChannel.objects.select_for_update().get(pk=channel.pk)
    if channel_id:
        channel.channel_id = channel_id
    if announcement_ts:
        channel.announcement_ts = announcement_ts
    if invited is not None:
        channel.invited = sorted(set(channel.invited) | set(invited))
    channel.last_error = error[:SHORT_TEXT_MAX]
    done = announcement_ts and channel.channel_id
    if failed or done or error:
        channel.lease_until = None  # finished, or free for the rescheduled attempt
    if failed:
        channel.status = IncidentSlackChannel.Status.FAILED
    elif done and channel.status != IncidentSlackChannel.Status.READY:
        channel.status = IncidentSlackChannel.Status.READY
        TimelineEvent.objects.create(
            incident_id=channel.incident_id,
            kind=TimelineEvent.Kind.NOTE,
            actor=channel.requested_by,
            source=TimelineEvent.Source.SLACK,
            occurred_at=timezone.now(),
            text=f"Slack channel #{channel.name} opened.",
            data={"slack_channel": channel.channel_id, "invited": channel.invited},
        )
        live.incident_changed(channel.incident_id)
    channel.save()
    return channel


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


SLACK_REQUEST_STALL = timedelta(seconds=30)
# Slack's response_url stays valid for 30 minutes; after that an answer cannot arrive.
SLACK_REQUEST_ANSWERABLE = timedelta(minutes=30)


def slack_requests_stalled(*, now: datetime | None = None) -> list[int]:
    """Slack requests whose task was lost (broker hiccup, killed worker): received
    but not acted on, or acted on but never answered, while Slack still listens."""
    now = now or timezone.now()
    recent = SlackRequest.objects.filter(
        received_at__lte=now - SLACK_REQUEST_STALL,
        received_at__gte=now - SLACK_REQUEST_ANSWERABLE,
    )
    not_acted = Q(status=SlackRequest.Status.RECEIVED)
    not_answered = Q(replied_at__isnull=True) & ~Q(reply="") & ~Q(status=SlackRequest.Status.FAILED)
    return list(recent.filter(not_acted | not_answered).values_list("pk", flat=True)[:200])


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
