"""A Slack channel of the incident's own: asked for on the incident page or the API,
created, populated and announced by the worker (``notifications.slack.handlers``),
its progress recorded here so a lost task or a Slack error is visible and retried."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from common.enqueue import publish
from common.roles import require_responder
from incidents.models import SHORT_TEXT_MAX, Incident, TimelineEvent
from incidents.timeline import timeline_record
from notifications.models import IncidentSlackChannel
from notifications.slack import inbound
from notifications.tasks import incident_slack_channel_open_task


def _slack_channel_enqueue(incident_id: int) -> None:
    # Broker down: the channel stays visibly pending; asking again retries.
    publish([(incident_slack_channel_open_task, (incident_id,))], what="Slack channel")


@transaction.atomic
def incident_slack_channel_open(*, incident: Incident, actor) -> tuple[IncidentSlackChannel, bool]:
    """Ask for the incident's own Slack channel. Writes a ``pending`` row (or
    re-arms a failed one) and enqueues the worker after commit.

    Returns ``(channel, queued)``: nothing is queued when the channel is ready.
    """
    require_responder(actor, to="open an incident's Slack channel")
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
        timeline_record(
            channel.incident_id,
            kind=TimelineEvent.Kind.SLACK_CHANNEL_OPENED,
            actor=channel.requested_by,
            source=TimelineEvent.Source.SLACK,
            text=f"Slack channel #{channel.name} opened.",
            data={"slack_channel": channel.channel_id, "invited": channel.invited},
        )
    channel.save()
    return channel
