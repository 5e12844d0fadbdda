"""The one place a mail-server connection is built, for every email Keel sends (team
lists, subscribers, invitations, digests, test sends): the environment's settings
when ``EMAIL_HOST`` is set there (``KEEL_EMAIL_FROM_ENVIRONMENT``), else the SMTP
server an admin stored in Settings → Email (``workspace.email_settings``, connected
in ``WorkspaceConfig.ready``; notifications does not import it), else the
environment's backend (the file backend of a fresh install). Every socket operation
is bounded by a timeout of at most ``KEEL_OUTBOUND_TIMEOUT_SECONDS``."""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import get_connection

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


@dataclass(frozen=True)
class MailServer:
    """An SMTP server stored in Settings (the password decrypted, never logged)."""

    host: str
    port: int
    use_tls: bool
    use_ssl: bool
    username: str
    password: str = ""
    from_email: str = ""
    timeout: int = 10

    def __repr__(self) -> str:  # never the password, whatever prints it
        return f"MailServer({self.host}:{self.port})"


_stored: Callable[[], MailServer | None] = lambda: None  # noqa: E731


def connect_store(stored: Callable[[], MailServer | None]) -> None:
    global _stored
    _stored = stored


def stored_server() -> MailServer | None:
    """The server stored in Settings, when the environment does not set one."""
    if settings.KEEL_EMAIL_FROM_ENVIRONMENT:
        return None
    return _stored()


def from_address(server: MailServer | None) -> str:
    """The sender of mail through ``server`` (``stored_server()``, read once per session)."""
    return (server.from_email if server else "") or settings.DEFAULT_FROM_EMAIL


def socket_timeout(server: MailServer | None = None) -> float:
    seconds = server.timeout if server else settings.EMAIL_TIMEOUT
    return min(seconds, settings.KEEL_OUTBOUND_TIMEOUT_SECONDS)


def address(server: MailServer | None) -> str:
    """``host:port`` of the server mail goes to (for error messages in plain words)."""
    if server:
        return f"{server.host}:{server.port}"
    return f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"


def connection(server: MailServer | None):
    """A Django email backend (not yet opened) for ``server`` (``stored_server()``;
    None: the environment's), every socket operation bounded."""
    if server is None:
        return get_connection(timeout=socket_timeout(), fail_silently=False)
    return get_connection(
        SMTP_BACKEND,
        host=server.host,
        port=server.port,
        username=server.username or None,
        password=server.password or None,
        use_tls=server.use_tls,
        use_ssl=server.use_ssl,
        timeout=socket_timeout(server),
        fail_silently=False,
    )
