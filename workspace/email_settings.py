"""The SMTP server entered in Settings → Email (``EmailSettings``, password encrypted):
its validation, its one write (with a history row and its actor), the store behind
``notifications.channels.mail_server`` (connected in ``WorkspaceConfig.ready``; the
environment wins there) and what the page may show of it (never the password)."""

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from common.exceptions import InvalidInput
from common.roles import require_admin
from common.validators import single_line
from notifications.channels.mail_server import MailServer
from notifications.models import ChannelPause, Destination
from notifications.services import channel_resume
from workspace import secrets
from workspace.models import EMAIL_MAX, HOST_MAX, SMTP_PASSWORD_MAX, SMTP_USER_MAX, EmailSettings

PORT_MIN, PORT_MAX = 1, 65_535
TIMEOUT_MIN, TIMEOUT_MAX = 1, 60
# A host name (letters, digits, dots, dashes) or an IPv4 address; no scheme, no port.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
Security = EmailSettings.Security


def _stored() -> EmailSettings | None:
    return EmailSettings.objects.filter(pk=1).first()


def _password(row: EmailSettings) -> str | None:
    """The stored password, "" when none, None when the current key cannot read it."""
    if not row.password_encrypted:
        return ""
    try:
        return secrets.decrypt(row.password_encrypted)
    except secrets.Unreadable:
        return None


def stored_server() -> MailServer | None:
    """What ``mail_server`` connects to; None without a row (or with an unreadable
    password: the environment's backend is then used and the page asks again)."""
    row = _stored()
    if row is None or (password := _password(row)) is None:
        return None
    return MailServer(
        host=row.host,
        port=row.port,
        use_tls=row.security == Security.STARTTLS,
        use_ssl=row.security == Security.SSL,
        username=row.username,
        password=password,
        from_email=row.from_email,
        timeout=row.timeout,
    )


@dataclass(frozen=True)
class Described:
    """What the Email page shows: where mail settings come from, and the stored row."""

    source: str  # "environment", "settings" or "" (the environment's default backend)
    row: EmailSettings | None
    password: str  # "set", "not set" or "unreadable: enter it again"


def describe() -> Described:
    row = _stored()
    password = "not set"
    if row is not None and row.password_encrypted:
        password = "set" if _password(row) is not None else "unreadable: enter it again"
    if settings.KEEL_EMAIL_FROM_ENVIRONMENT:
        return Described("environment", row, password)
    return Described("settings" if row else "", row, password)


def problems(
    *, host: str, port: int, username: str, password: str, from_email: str, timeout: int
) -> dict[str, str]:
    """Field → why it cannot be used (empty when all can); the form says the same."""
    found: dict[str, str] = {}
    try:
        single_line(username)
    except ValidationError as exc:
        found["username"] = exc.messages[0]
    if len(host) > HOST_MAX or not HOST_RE.fullmatch(host):
        found.setdefault(
            "host", "A host name such as smtp.example.com (no scheme, no port, one line)."
        )
    if not PORT_MIN <= port <= PORT_MAX:
        found["port"] = f"A port is between {PORT_MIN} and {PORT_MAX} (SMTP: 587, 465 or 25)."
    if len(username) > SMTP_USER_MAX:
        found.setdefault("username", f"At most {SMTP_USER_MAX} characters.")
    if len(password) > SMTP_PASSWORD_MAX or "\n" in password or "\r" in password:
        found["password"] = f"One line of at most {SMTP_PASSWORD_MAX} characters."
    try:
        if len(from_email) > EMAIL_MAX:
            raise ValidationError("too long")
        validate_email(from_email)
    except ValidationError:
        found["from_email"] = "An email address such as keel@example.com."
    if not TIMEOUT_MIN <= timeout <= TIMEOUT_MAX:
        found["timeout"] = f"Between {TIMEOUT_MIN} and {TIMEOUT_MAX} seconds."
    return found


@transaction.atomic
def email_settings_save(
    *,
    actor,
    host: str,
    port: int,
    security: str,
    username: str = "",
    password: str = "",
    clear_password: bool = False,
    from_email: str,
    timeout: int = 10,
) -> EmailSettings:
    """Store the SMTP server every email then goes through (unless the environment
    sets one). A blank ``password`` keeps the stored one; ``clear_password`` drops it.
    An email pause (the old server refused the login) is lifted: what it held goes
    out through the new server, which pauses email again if it refuses too."""
    require_admin(actor, to="change Settings")
    host, username, from_email = host.strip(), username.strip(), from_email.strip()
    found = problems(
        host=host,
        port=port,
        username=username,
        password=password,
        from_email=from_email,
        timeout=timeout,
    )
    if security not in Security.values:
        found["security"] = "Choose STARTTLS, SSL/TLS or none."
    if found:
        field, message = next(iter(found.items()))
        raise InvalidInput(message, field=field)
    row = EmailSettings.objects.select_for_update().filter(pk=1).first() or EmailSettings(pk=1)
    row.host, row.port, row.security = host, port, security
    row.username, row.from_email, row.timeout = username, from_email, timeout
    if password:
        row.password_encrypted = secrets.encrypt(password)
    elif clear_password:
        row.password_encrypted = ""
    row._history_user = actor
    row._change_reason = (
        "SMTP settings saved in Settings"
        + (", password changed" if password else "")
        + (", password removed" if clear_password and not password else "")
    )
    row.save()
    if ChannelPause.objects.filter(kind=Destination.Kind.EMAIL).exists():
        channel_resume(kind=Destination.Kind.EMAIL, actor=actor)
    return row
