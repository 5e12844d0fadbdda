"""The one accessor of the Slack credentials, used by every Slack caller: the
environment when set there (``SLACK_BOT_TOKEN``, ``SLACK_SIGNING_SECRET``), else the
store connected at start-up — what an admin entered in Settings → Slack, kept
encrypted by ``workspace`` (``WorkspaceConfig.ready``; notifications does not import it)."""

from collections.abc import Callable

from django.conf import settings

# What a Slack attempt without a token records (the channel pause says it too).
BOT_TOKEN_MISSING = "SLACK_BOT_TOKEN is not set (nor a bot token in Settings → Slack)."

_stored_bot_token: Callable[[], str | None] = lambda: None  # noqa: E731
_stored_signing_secret: Callable[[], str | None] = lambda: None  # noqa: E731


def connect_store(
    *, bot_token: Callable[[], str | None], signing_secret: Callable[[], str | None]
) -> None:
    global _stored_bot_token, _stored_signing_secret
    _stored_bot_token, _stored_signing_secret = bot_token, signing_secret


def bot_token() -> str | None:
    """The bot token every Slack call uses, or None: Slack is not configured."""
    return settings.SLACK_BOT_TOKEN or _stored_bot_token()


def signing_secret() -> str | None:
    """The secret Slack's requests are verified with, or None."""
    return settings.SLACK_SIGNING_SECRET or _stored_signing_secret()
