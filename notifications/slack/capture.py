"""Worker side of the Slack conversation capture: a responder reacted to a message
in an incident's channel with the capture reaction, so read that message (and its
author) from Slack and put it on the timeline; or apply an edit or deletion of a
captured message. Slack is read here, outside any transaction, within one total
deadline (``KEEL_OUTBOUND_DEADLINE_SECONDS``); the writes are
``notifications.slack.capture_records`` functions.
"""

import logging
import time

from django.conf import settings

from common.roles import can_drive_incidents
from incidents.visibility import incidents_visible_to
from notifications.capture_models import SlackEvent
from notifications.channels.base import Outcome
from notifications.models import IncidentSlackChannel
from notifications.retry import SLACK_JOBS
from notifications.slack import capture_records as slack_capture
from notifications.slack.client import SlackChannel, SlackFailure
from notifications.slack.handlers import HandleResult, keel_user_for

logger = logging.getLogger(__name__)


def _author_name(user: dict, message: dict) -> str:
    profile = user.get("profile") or {}
    for name in (profile.get("display_name"), profile.get("real_name"), user.get("real_name")):
        if name and str(name).strip():
            return str(name).strip()
    return str(message.get("username") or message.get("user") or message.get("bot_id") or "Slack")


def _capture(slack_event: SlackEvent, *, attempt: int) -> HandleResult:
    room = (
        IncidentSlackChannel.objects.select_related("incident")
        .filter(channel_id=slack_event.channel_id)
        .first()
    )
    finish = slack_capture.slack_event_finish
    if room is None:
        finish(
            slack_event=slack_event,
            status=SlackEvent.Status.IGNORED,
            outcome="Not an incident channel.",
        )
        return HandleResult(SlackEvent.Status.IGNORED)
    if not settings.SLACK_BOT_TOKEN:
        finish(
            slack_event=slack_event,
            status=SlackEvent.Status.FAILED,
            outcome="SLACK_BOT_TOKEN is not set.",
        )
        return HandleResult(SlackEvent.Status.FAILED)
    slack = SlackChannel(deadline=time.monotonic() + settings.KEEL_OUTBOUND_DEADLINE_SECONDS)
    try:
        actor, refusal = keel_user_for(slack_event.slack_user_id, slack=slack)
        if actor is not None and not (
            can_drive_incidents(actor)
            and incidents_visible_to(actor).filter(pk=room.incident_id).exists()
        ):
            actor, refusal = None, "Only the incident's responders can add messages to it."
        if actor is None:
            finish(slack_event=slack_event, status=SlackEvent.Status.IGNORED, outcome=refusal)
            return HandleResult(SlackEvent.Status.IGNORED)
        message = slack.message(channel=slack_event.channel_id, ts=slack_event.message_ts)
        if message is None:
            finish(
                slack_event=slack_event,
                status=SlackEvent.Status.IGNORED,
                outcome="The message is gone.",
            )
            return HandleResult(SlackEvent.Status.IGNORED)
        author = slack.user_profile(str(message["user"])) if message.get("user") else {}
    except SlackFailure as failure:
        if failure.result.outcome == Outcome.RETRY and not SLACK_JOBS.exhausted(attempt):
            return HandleResult(
                SlackEvent.Status.RECEIVED, SLACK_JOBS.wait(attempt, failure.result.retry_after)
            )
        finish(
            slack_event=slack_event, status=SlackEvent.Status.FAILED, outcome=failure.result.error
        )
        return HandleResult(SlackEvent.Status.FAILED)
    captured = slack_capture.slack_message_capture(
        slack_event=slack_event,
        incident=room.incident,
        message=message,
        author=_author_name(author, message),
        actor=actor,
    )
    slack_event.refresh_from_db(fields=["status"])
    return HandleResult(slack_event.status if captured is None else SlackEvent.Status.DONE)


def slack_event_handle(slack_event_id: int, *, attempt: int = 1) -> HandleResult:
    """Handle one recorded event once; a repeated task finds it finished."""
    slack_event = SlackEvent.objects.filter(pk=slack_event_id).first()
    if slack_event is None:
        return HandleResult("missing")
    if slack_event.status != SlackEvent.Status.RECEIVED:
        return HandleResult(slack_event.status)
    if slack_event.kind == SlackEvent.Kind.REACTION_ADDED:
        return _capture(slack_event, attempt=attempt)
    return HandleResult(slack_capture.slack_message_change_apply(slack_event=slack_event))
