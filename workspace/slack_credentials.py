"""The Slack credentials an admin entered in Settings (``SlackSettings``, encrypted):
the store behind ``notifications.slack.credentials`` (connected in
``WorkspaceConfig.ready``; the environment wins there), and what the page may show."""

from dataclasses import dataclass

from django.conf import settings

from workspace import secrets
from workspace.models import SlackSettings

FROM_ENVIRONMENT = "environment"
FROM_SETTINGS = "settings"


@dataclass(frozen=True)
class Credential:
    """Where a credential comes from and what a page may show of it."""

    source: str  # FROM_ENVIRONMENT, FROM_SETTINGS or "" (not set)
    last4: str = ""
    unreadable: bool = False

    @property
    def is_set(self) -> bool:
        return bool(self.source) and not self.unreadable


def _stored() -> SlackSettings | None:
    return SlackSettings.objects.filter(pk=1).first()


def _decrypted(value: str) -> str | None:
    if not value:
        return None
    try:
        return secrets.decrypt(value)
    except secrets.Unreadable:
        return None


def stored_bot_token() -> str | None:
    stored = _stored()
    return _decrypted(stored.bot_token_encrypted) if stored else None


def stored_signing_secret() -> str | None:
    stored = _stored()
    return _decrypted(stored.signing_secret_encrypted) if stored else None


def describe() -> dict[str, Credential]:
    """``{"bot_token": Credential, "signing_secret": Credential}`` for the settings page."""
    stored = _stored()

    def one(env_value: str | None, encrypted: str, last4: str) -> Credential:
        if env_value:
            return Credential(FROM_ENVIRONMENT, secrets.last4(env_value))
        if encrypted:
            return Credential(FROM_SETTINGS, last4, unreadable=_decrypted(encrypted) is None)
        return Credential("")

    return {
        "bot_token": one(
            settings.SLACK_BOT_TOKEN,
            stored.bot_token_encrypted if stored else "",
            stored.bot_token_last4 if stored else "",
        ),
        "signing_secret": one(
            settings.SLACK_SIGNING_SECRET,
            stored.signing_secret_encrypted if stored else "",
            stored.signing_secret_last4 if stored else "",
        ),
    }
