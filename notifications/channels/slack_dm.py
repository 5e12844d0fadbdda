"""Slack direct message: a personal notice to one person's DM with the Keel bot.

The person's destination targets their email address; the worker (never the
request) finds their Slack user id with ``users.lookupByEmail`` and keeps it on
``SlackUserLink`` with the time of the lookup, opens the DM with
``conversations.open`` and posts with ``chat.postMessage``, through the same
client, deadline and error classification as the incident threads.

Exactly once: a delivery attempted before (a retry after a lost answer, a killed
worker, a replay) looks its message up in the DM by its delivery id first.
"""

from datetime import timedelta

from django.utils import timezone

from notifications.channels.base import Outcome, SendResult
from notifications.models import Delivery, SlackUserLink
from notifications.slack import blocks
from notifications.slack import credentials as slack_credentials
from notifications.slack.client import SlackChannel, SlackFailure, error_code

# An address Slack did not know is asked again after this (the person may join).
NOT_FOUND_RECHECK = timedelta(hours=6)
# The cached id no longer reaches the person: forget it, look it up next time.
STALE_USER_ERRORS = {"user_not_found", "user_disabled", "channel_not_found", "cannot_dm_bot"}


def _cached(user, email: str, now) -> SlackUserLink | None:
    link = SlackUserLink.objects.filter(user=user).first()
    if link is None or link.email.lower() != email.lower():
        return None
    if not link.slack_user_id and now - link.looked_up_at > NOT_FOUND_RECHECK:
        return None
    return link


def slack_user_id(slack: SlackChannel, user, email: str) -> str:
    """The person's Slack user id ("" when Slack knows no user with ``email``),
    from the cache or looked up now and cached."""
    now = timezone.now()
    link = _cached(user, email, now)
    if link is not None:
        return link.slack_user_id
    found = slack.user_id_by_email(email) or ""
    SlackUserLink.objects.update_or_create(
        user=user, defaults={"email": email, "slack_user_id": found, "looked_up_at": now}
    )
    return found


def send(delivery: Delivery, *, deadline: float | None = None) -> SendResult:
    """DM the delivery's person (no Slack call starts after ``deadline``)."""
    if not slack_credentials.bot_token():
        return SendResult(Outcome.CREDENTIALS, error=slack_credentials.BOT_TOKEN_MISSING)
    destination = delivery.destination
    user = destination.user
    email = destination.target.strip()
    if not email:
        return SendResult(Outcome.PERMANENT, error=f"{user.get_username()} has no email address.")
    delivery_id = str(delivery.pk)
    try:
        slack = SlackChannel(deadline=deadline)
        user_id = slack_user_id(slack, user, email)
        if not user_id:
            return SendResult(
                Outcome.PERMANENT,
                error=f"No Slack user has the email {email} (users.lookupByEmail: "
                "users_not_found).",
            )
        channel = slack.open_dm(user_id=user_id)
        if delivery.total_attempts > 1:
            ts = slack.find_posted(
                channel=channel,
                delivery_id=delivery_id,
                since=delivery.created_at.timestamp(),
                thread_ts=None,
            )
            if ts is not None:
                return SendResult.sent(ts)
        text, dm_blocks = blocks.personal_notice(text=delivery.rendered_text)
        ts = slack.post(
            channel=channel,
            text=text,
            blocks=dm_blocks,
            delivery_id=delivery_id,
            incident_id=delivery.update.incident_id,
        )
        return SendResult.sent(ts)
    except SlackFailure as failure:
        code = error_code(failure)
        if code in STALE_USER_ERRORS or failure.result.outcome == Outcome.GONE:
            SlackUserLink.objects.filter(user=user).delete()
            # This person's DM, not Slack, is at fault: the message dies, the
            # channel and the other people's DMs stay healthy.
            return SendResult(Outcome.PERMANENT, error=failure.result.error)
        return failure.result
