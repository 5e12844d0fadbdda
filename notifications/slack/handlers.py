"""Worker side of Slack inbound: who the Slack user is in Keel, carrying out a
received command or click, answering through ``response_url``, and setting up
an incident's own channel. Network calls happen here, outside any transaction;
the writes are ``notifications.slack.commands`` and ``channel_provisioning`` functions.
"""

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model

from common.exceptions import InvalidInput
from common.outbound import AddressRefused
from notifications.channels import slack as slack_channel
from notifications.channels.base import Outcome, SendResult, parse_retry_after
from notifications.channels.webhook import open_url, validate_url
from notifications.models import IncidentSlackChannel, SlackRequest
from notifications.retry import SLACK_JOBS
from notifications.slack import blocks, channel_provisioning, commands
from notifications.slack import credentials as slack_credentials
from notifications.slack.client import SlackChannel, SlackDirectory, SlackFailure

logger = logging.getLogger(__name__)

# slack_channel._incident_payload is the announcement's data; the dedicated
# channel shows the same announcement as the incidents channel.
_announcement_payload = slack_channel._incident_payload


@dataclass(frozen=True)
class HandleResult:
    """What the task does next: nothing, or run again after ``retry_in`` seconds."""

    status: str
    retry_in: float | None = None


# ---- who is this Slack user in Keel? ---------------------------------------


def keel_user_for(slack_user_id: str, *, slack: SlackDirectory | None = None):
    """``(user, refusal)``: the active Keel user whose email matches the Slack
    profile's, or None and the reason to tell the Slack user.

    Raises ``SlackFailure`` when Slack could not answer (the caller retries)."""
    if not slack_credentials.bot_token():
        return None, "Keel's Slack bot token is not configured, so it cannot tell who you are."
    slack = slack or SlackDirectory()
    email = slack.user_email(slack_user_id)
    if not email:
        return None, (
            "Keel could not read the email on your Slack profile "
            "(the Slack app needs the users:read.email scope)."
        )
    matches = list(get_user_model().objects.filter(email__iexact=email, is_active=True)[:2])
    if not matches:
        return None, (
            f"Keel has no active user with your Slack email ({email}). "
            "Ask a Keel admin to add you with that email."
        )
    if len(matches) > 1:
        return None, (
            f"More than one Keel user has the email {email}; Keel cannot tell which is you. "
            "Ask a Keel admin to fix the duplicate."
        )
    return matches[0], ""


# ---- answering the Slack user ----------------------------------------------


def respond(*, response_url: str, text: str) -> SendResult:
    """POST an ephemeral message to Slack's ``response_url`` (with the outbound timeout)."""
    try:
        # Syntax only: open_url checks the address it actually connects to.
        validate_url(response_url, resolve=False)
    except InvalidInput as exc:
        return SendResult(Outcome.PERMANENT, error=exc.message)
    body = json.dumps(
        {"response_type": "ephemeral", "replace_original": False, "text": text}
    ).encode()
    request = urllib.request.Request(
        response_url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "Keel-Slack/1"},
    )
    try:
        with open_url(request) as response:
            response.read(1024)
            return SendResult.sent()
    except AddressRefused as exc:
        return SendResult(Outcome.PERMANENT, error=str(exc)[:500])
    except urllib.error.HTTPError as exc:
        error = f"HTTP {exc.code} from {urlsplit(response_url).hostname}"
        if exc.code == 429 or exc.code >= 500:
            return SendResult.retry(error, parse_retry_after(exc.headers.get("Retry-After")))
        # 404: the response_url expired (30 minutes) or was used five times.
        return SendResult(Outcome.PERMANENT, error=error)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return SendResult.retry(f"{type(exc).__name__}: {exc}"[:500])


def _answer(slack_request: SlackRequest) -> SendResult:
    payload = slack_request.payload
    # The reply quotes titles and what the user typed: Slack-escaped, shown literally.
    text = blocks.escape(slack_request.reply)
    if payload.get("response_url"):
        return respond(response_url=payload["response_url"], text=text)
    if payload.get("channel_id") and slack_credentials.bot_token():
        try:
            SlackDirectory().post_ephemeral(
                channel=payload["channel_id"],
                user=slack_request.slack_user_id,
                text=text,
            )
        except SlackFailure as failure:
            return failure.result
        return SendResult.sent()
    return SendResult(Outcome.PERMANENT, error="Nowhere to answer: no response_url or channel.")


# ---- carrying out a request ------------------------------------------------


def slack_request_handle(slack_request_id: int, *, attempt: int = 1) -> HandleResult:
    """Find the Keel user, act once (``commands.slack_request_apply``), answer.

    A repeated task finds the request already acted on and only answers if the
    answer did not get through."""
    slack_request = SlackRequest.objects.filter(pk=slack_request_id).first()
    if slack_request is None:
        return HandleResult("missing")
    if slack_request.status == SlackRequest.Status.RECEIVED:
        try:
            actor, refusal = keel_user_for(slack_request.slack_user_id)
        except SlackFailure as failure:
            if failure.result.outcome == Outcome.RETRY and not SLACK_JOBS.exhausted(attempt):
                return HandleResult(
                    slack_request.status, SLACK_JOBS.wait(attempt, failure.result.retry_after)
                )
            actor, refusal = None, f"Keel could not look you up in Slack: {failure.result.error}"
        slack_request = commands.slack_request_apply(
            slack_request=slack_request, actor=actor, refusal=refusal
        )
        logger.info(
            "Slack request %s (%s) by %s: %s",
            slack_request.pk,
            slack_request.kind,
            slack_request.slack_user_id,
            slack_request.status,
        )
    if slack_request.replied_at is not None or not slack_request.reply:
        return HandleResult(slack_request.status)
    sent = _answer(slack_request)
    if sent.outcome == Outcome.SENT:
        commands.slack_request_replied(slack_request=slack_request)
    elif sent.outcome == Outcome.RETRY and not SLACK_JOBS.exhausted(attempt):
        return HandleResult(slack_request.status, SLACK_JOBS.wait(attempt, sent.retry_after))
    else:
        logger.warning("Slack request %s: answer not delivered: %s", slack_request.pk, sent.error)
    return HandleResult(slack_request.status)


# ---- the incident's own channel --------------------------------------------


def _members(incident) -> list:
    people = [incident.commander] if incident.commander else []
    people += list(incident.responders.filter(is_active=True).order_by("pk"))
    return [p for p in dict.fromkeys(people) if p.is_active and p.email]


def incident_slack_channel_provision(incident_id: int, *, attempt: int = 1) -> HandleResult:
    """Create the channel (or find it after ``name_taken``), invite the commander
    and responders, post the announcement there once, then mark it ready.

    Every step is safe to repeat; progress is recorded as it is made."""
    channel = channel_provisioning.incident_slack_channel_claim(
        incident_id=incident_id, lease_seconds=settings.KEEL_DELIVERY_LEASE_SECONDS
    )
    if channel is None:
        return HandleResult("nothing to do")
    incident = channel.incident
    if not slack_credentials.bot_token():
        channel_provisioning.incident_slack_channel_progress(
            channel=channel, error=slack_credentials.BOT_TOKEN_MISSING, failed=True
        )
        return HandleResult(IncidentSlackChannel.Status.FAILED)
    directory = SlackDirectory()
    poster = SlackChannel(directory.client)
    try:
        channel_id = channel.channel_id or directory.create_channel(
            name=channel.name, private=incident.private
        )
        if not channel.channel_id:
            channel = channel_provisioning.incident_slack_channel_progress(
                channel=channel, channel_id=channel_id
            )
        invited = []
        for person in _members(incident):
            slack_user = directory.user_id_by_email(person.email)
            if slack_user and directory.invite(channel=channel_id, user_id=slack_user):
                invited.append(person.get_username())
        channel = channel_provisioning.incident_slack_channel_progress(
            channel=channel, invited=invited
        )
        # A post whose answer was lost is found by its metadata instead of posted twice.
        marker = f"incident-channel-{incident.pk}"
        ts = poster.find_posted(
            channel=channel_id,
            delivery_id=marker,
            since=channel.created_at.timestamp(),
            thread_ts=None,
        )
        if ts is None:
            text, announcement = blocks.announcement(incident=_announcement_payload(incident))
            ts = poster.post(
                channel=channel_id,
                text=text,
                blocks=announcement,
                delivery_id=marker,
                incident_id=incident.pk,
            )
        channel = channel_provisioning.incident_slack_channel_progress(
            channel=channel, announcement_ts=ts
        )
    except SlackFailure as failure:
        result = failure.result
        retry = result.outcome == Outcome.RETRY and not SLACK_JOBS.exhausted(attempt)
        channel_provisioning.incident_slack_channel_progress(
            channel=channel, error=result.error, failed=not retry
        )
        logger.warning(
            "Slack channel for incident %s, attempt %s: %s", incident_id, attempt, result.error
        )
        if retry:
            return HandleResult(channel.status, SLACK_JOBS.wait(attempt, result.retry_after))
        return HandleResult(IncidentSlackChannel.Status.FAILED)
    return HandleResult(channel.status)
