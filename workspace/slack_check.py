"""The worker side of **Test connection**: ``auth.test`` and ``conversations.list``
with the candidate token (or the one in use), within one total deadline, outside
any transaction; the outcome is written on the check, and a candidate Slack
accepted is saved (``services.slack_credentials_apply``)."""

import logging
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifications.slack import credentials
from notifications.slack.client import SlackChannel, SlackFailure, error_code, make_client
from workspace import secrets, services
from workspace.models import SlackCheck

logger = logging.getLogger(__name__)

# auth.test plus this many pages of 200 channels (4,000 channels) fit in the deadline.
CHANNEL_PAGES = 20
CHECK_CALLS = 1 + CHANNEL_PAGES

PLAIN_WORDS = {
    "invalid_auth": "Slack does not know this token (invalid_auth): copy the Bot User OAuth "
    "Token again.",
    "not_authed": "No token reached Slack (not_authed).",
    "token_revoked": "This token was revoked (token_revoked): reinstall the app and copy the "
    "new one.",
    "account_inactive": "The bot's account is deactivated (account_inactive).",
    "missing_scope": "The app lacks a scope (missing_scope): add channels:read, groups:read "
    "and chat:write, then reinstall it.",
}


def _in_plain_words(failure: SlackFailure) -> str:
    code = error_code(failure)
    return PLAIN_WORDS.get(code) or f"Slack could not be reached or refused: {failure.result.error}"


def _token_for(check: SlackCheck) -> str | None:
    if check.token_encrypted:
        try:
            return secrets.decrypt(check.token_encrypted)
        except secrets.Unreadable:
            return None
    return credentials.bot_token()


def slack_check_run(*, check_id: int) -> str:
    """Run one pending check (a duplicate task finds it finished and does nothing)."""
    check = SlackCheck.objects.filter(pk=check_id, status=SlackCheck.Status.PENDING).first()
    if check is None:
        return "nothing to do"
    token = _token_for(check)
    outcome: dict = {}
    if not token:
        outcome = {"status": SlackCheck.Status.FAILED, "error": credentials.BOT_TOKEN_MISSING}
    else:
        deadline = time.monotonic() + CHECK_CALLS * settings.KEEL_OUTBOUND_TIMEOUT_SECONDS
        slack = SlackChannel(make_client(token), deadline=deadline)
        try:
            who = slack.auth_test()
            channels, truncated = slack.channel_list(max_pages=CHANNEL_PAGES)
            outcome = {
                "status": SlackCheck.Status.OK,
                "team": who["team"][:1000],
                "bot_user": (who["user"] or who["user_id"])[:1000],
                "channels": channels,
                "channels_truncated": truncated,
            }
        except SlackFailure as failure:
            outcome = {"status": SlackCheck.Status.FAILED, "error": _in_plain_words(failure)[:1000]}
    with transaction.atomic():
        check = SlackCheck.objects.select_for_update().get(pk=check_id)
        if check.status != SlackCheck.Status.PENDING:
            return check.status
        for field, value in outcome.items():
            setattr(check, field, value)
        check.finished_at = timezone.now()
        check.save()
        if check.status == SlackCheck.Status.OK and check.requested_by:
            if check.candidate:
                services.slack_credentials_apply(check=check, actor=check.requested_by)
            else:  # the token in use works again (e.g. fixed in the environment)
                services.slack_pause_lift(actor=check.requested_by)
    logger.info("Slack check %s: %s %s", check.pk, check.status, check.error)
    return check.status
