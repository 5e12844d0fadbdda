"""Slack destination: the incident's announcement (updated in place) plus a
thread reply per update.

What may already be in Slack decides what is posted (the decision table):

- the announcement: no ``SlackAnnouncement`` row → write one (``ts`` blank)
  *before* posting, then post and store the ``ts``. A row with a blank ``ts``
  means an earlier attempt — of any delivery of this incident to this
  destination — posted without hearing back: look the announcement up in the
  channel by its metadata (incident and destination); found → keep it and edit it
  in place (``chat.update``); not found → post it.
- the reply: the delivery was never attempted before → post. It was (a retry, a
  re-run after a killed worker, a replay) → look it up in the thread by its
  delivery id; found → sent; not found → post.
"""

from notifications import rendering
from notifications.channels.base import Outcome, SendResult
from notifications.models import Delivery, SlackAnnouncement, UpdateKind
from notifications.slack import blocks
from notifications.slack import credentials as slack_credentials
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


def announcement_message(incident) -> tuple[str, list[dict]]:
    """The announcement's text and blocks (posted once, then edited in place)."""
    return blocks.announcement(incident=_incident_payload(incident))


def reply_message(update, text: str) -> tuple[str, list[dict]]:
    """The thread reply of one update: the audience's rendered ``text`` and the promise."""
    return blocks.update_reply(
        text=text,
        next_update=rendering.context_for(update)["next_update"] if update.next_update_at else None,
    )


def _announcement(slack: SlackChannel, delivery: Delivery) -> tuple[SlackAnnouncement, bool]:
    """The incident's announcement in this destination, posted if need be;
    True when this call posted it (so it is current and needs no edit)."""
    incident = delivery.update.incident
    destination = delivery.destination
    announcement = SlackAnnouncement.objects.filter(
        incident=incident, destination=destination
    ).first()
    claimed_now = False
    if announcement is None:
        channel = slack.resolve_channel(destination.target)
        # Claimed (and committed: the adapter runs outside any transaction) before
        # Slack is called, so if the answer is lost every later attempt knows to
        # look before posting, whichever delivery it belongs to.
        announcement, claimed_now = SlackAnnouncement.objects.get_or_create(
            incident=incident, destination=destination, defaults={"channel_id": channel}
        )
    if announcement.ts:
        return announcement, False
    ts = None
    if not claimed_now:
        ts = slack.find_root(
            channel=announcement.channel_id,
            incident_id=incident.pk,
            destination_id=destination.pk,
            since=announcement.created_at.timestamp(),
        )
    posted = ts is None
    if posted:
        text, root_blocks = announcement_message(incident)
        ts = slack.post(
            channel=announcement.channel_id,
            text=text,
            blocks=root_blocks,
            delivery_id=str(delivery.pk),
            incident_id=incident.pk,
            destination_id=destination.pk,
        )
    SlackAnnouncement.objects.filter(pk=announcement.pk, ts="").update(ts=ts)
    announcement.refresh_from_db()
    return announcement, posted and announcement.ts == ts


def send(
    delivery: Delivery, *, slack: SlackChannel | None = None, deadline: float | None = None
) -> SendResult:
    """Post ``delivery`` (no Slack call starts after ``deadline``, a monotonic time)."""
    if not slack_credentials.bot_token():
        return SendResult(Outcome.CREDENTIALS, error=slack_credentials.BOT_TOKEN_MISSING)
    update = delivery.update
    incident = update.incident
    delivery_id = str(delivery.pk)
    # total_attempts survives a replay; attempts does not.
    attempted_before = delivery.total_attempts > 1
    try:
        slack = slack or SlackChannel(deadline=deadline)
        announcement, fresh = _announcement(slack, delivery)
        if not fresh:
            root_text, root_blocks = announcement_message(incident)
            slack.update(
                channel=announcement.channel_id,
                ts=announcement.ts,
                text=root_text,
                blocks=root_blocks,
            )
        if update.kind == UpdateKind.DECLARED:
            return SendResult.sent(announcement.ts)
        ts = None
        if attempted_before:
            ts = slack.find_posted(
                channel=announcement.channel_id,
                delivery_id=delivery_id,
                since=delivery.created_at.timestamp(),
                thread_ts=announcement.ts,
            )
        if ts is None:
            reply_text, reply_blocks = reply_message(update, delivery.rendered_text)
            ts = slack.post(
                channel=announcement.channel_id,
                text=reply_text,
                blocks=reply_blocks,
                delivery_id=delivery_id,
                incident_id=incident.pk,
                thread_ts=announcement.ts,
                destination_id=delivery.destination_id,
            )
        return SendResult.sent(ts)
    except SlackFailure as failure:
        return failure.result
