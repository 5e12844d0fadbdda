"""Slack destination: the incident's announcement (updated in place) plus a
thread reply per update. Retries after an ambiguous failure look the message up
by the delivery id in its metadata before posting again."""

from django.conf import settings

from notifications import rendering
from notifications.channels.base import Outcome, SendResult
from notifications.models import Delivery, SlackAnnouncement, UpdateKind
from notifications.slack import blocks
from notifications.slack.client import SlackChannel, SlackFailure


def _incident_payload(incident) -> dict:
    return {
        "id": incident.pk,
        "title": incident.title,
        "severity": incident.severity.code,
        "stage": incident.stage,
        "stage_label": incident.get_stage_display(),
        "closed": incident.closed_at is not None,
        "commander": incident.commander.get_full_name() or incident.commander.get_username()
        if incident.commander
        else "",
        "services": ", ".join(s.name for s in incident.services.all()),
        "url": rendering.incident_url(incident.pk),
    }


def send(delivery: Delivery, *, slack: SlackChannel | None = None) -> SendResult:
    if not settings.SLACK_BOT_TOKEN:
        return SendResult(Outcome.CREDENTIALS, error="SLACK_BOT_TOKEN is not set.")
    update = delivery.update
    incident = update.incident
    destination = delivery.destination
    delivery_id = str(delivery.pk)
    since = delivery.created_at.timestamp()
    ambiguous_before = delivery.attempts > 1
    try:
        slack = slack or SlackChannel()
        root_text, root_blocks = blocks.announcement(incident=_incident_payload(incident))
        announcement = SlackAnnouncement.objects.filter(
            incident=incident, destination=destination
        ).first()
        if announcement is None:
            channel = slack.resolve_channel(destination.target)
            ts = None
            if ambiguous_before:
                ts = slack.find_posted(
                    channel=channel, delivery_id=delivery_id, since=since, thread_ts=None
                )
            if ts is None:
                ts = slack.post(
                    channel=channel,
                    text=root_text,
                    blocks=root_blocks,
                    delivery_id=delivery_id,
                    incident_id=incident.pk,
                )
            announcement, _ = SlackAnnouncement.objects.get_or_create(
                incident=incident,
                destination=destination,
                defaults={"channel_id": channel, "ts": ts},
            )
            if update.kind == UpdateKind.DECLARED:
                return SendResult.sent(ts)
        else:
            slack.update(
                channel=announcement.channel_id,
                ts=announcement.ts,
                text=root_text,
                blocks=root_blocks,
            )
        reply_text, reply_blocks = blocks.update_reply(
            text=delivery.rendered_text,
            next_update=rendering.context_for(update)["next_update"]
            if update.next_update_at
            else None,
        )
        ts = None
        if ambiguous_before:
            ts = slack.find_posted(
                channel=announcement.channel_id,
                delivery_id=delivery_id,
                since=since,
                thread_ts=announcement.ts,
            )
        if ts is None:
            ts = slack.post(
                channel=announcement.channel_id,
                text=reply_text,
                blocks=reply_blocks,
                delivery_id=delivery_id,
                incident_id=incident.pk,
                thread_ts=announcement.ts,
            )
        return SendResult.sent(ts)
    except SlackFailure as failure:
        return failure.result
