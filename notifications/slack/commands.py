"""Slack inbound: slash commands (``/keel declare|update|move``) and the
announcement's buttons. A verified request is recorded once (Slack retries), handled
in the worker as the Keel user it maps to, through the same services as the UI, and
answered once. ``notifications.slack.views`` receives; ``handlers`` answers."""

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from common.enqueue import publish
from common.exceptions import ApplicationError, InvalidInput
from common.roles import can_drive_incidents
from incidents import lifecycle
from incidents import services as incident_services
from incidents.models import Incident, Severity, TimelineEvent
from incidents.visibility import incidents_visible_to
from notifications import problems, rendering
from notifications.models import MESSAGE_MAX, SlackRequest
from notifications.services import update_post
from notifications.slack import inbound
from notifications.tasks import slack_request_handle_task

logger = logging.getLogger(__name__)


def _slack_enqueue(slack_request) -> None:
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
