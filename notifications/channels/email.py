"""Email to CS/business lists through Django's email backend, one stable Message-ID per delivery.

One bad row must never look like a broken mail server: the subject is put on one
line before it becomes a header, and what can never be sent (a header Django
refuses, recipients the server refuses, a message it rejects with a 5xx) is a
permanent failure of that delivery, which the outbox does not count against the
destination's circuit breaker. Only what may pass by itself (connection errors,
timeouts, 4xx replies) is a retry, and counts.
"""

import smtplib
import socket
import ssl
from email.utils import formataddr

from django.core.mail import BadHeaderError, EmailMessage

from common.validators import one_line
from notifications.channels import mail_server
from notifications.channels.base import Outcome, SendResult
from notifications.channels.email_session import Session

SUBJECT_MAX = 250
# Every email, a team list's or a status page subscriber's, leaves through the one
# mail server: its failures count against one circuit breaker.
BREAKER_KEY = "email:smtp"


def _domain(sender: str | None = None) -> str:
    sender = sender or mail_server.from_address(mail_server.stored_server())
    return sender.rpartition("@")[2].strip(">") or "keel.local"


def unreachable_words(exc: Exception, server: mail_server.MailServer | None) -> str:
    """Why the mail server could not be reached or talked to, in plain words (the
    test sends log and the delivery log show it)."""
    where = mail_server.address(server)
    if isinstance(exc, ConnectionRefusedError):
        return f"The mail server {where} refused the connection: check the host and port."
    if isinstance(exc, socket.gaierror):
        return f"The mail server's host name in {where} cannot be found: {exc}"
    if isinstance(exc, TimeoutError):
        return f"No answer from the mail server {where} in time ({exc or 'timed out'})."
    if isinstance(exc, ssl.SSLError):
        return f"TLS with the mail server {where} failed ({exc}): check the TLS/SSL choice."
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"The mail server {where} does not offer this ({exc}): check TLS and the user."
    return f"{type(exc).__name__}: {exc}"


def message_id_for(delivery_id: str, *, sender: str | None = None) -> str:
    return f"<delivery-{delivery_id}@{_domain(sender)}>"


def team_headers(*, audience_slug: str, audience_name: str, thread_root_id: str | None) -> dict:
    """Headers of team mail (CS, business lists): a ``List-Id`` per audience (RFC 2919,
    so people can filter each audience's mail), ``Auto-Submitted: auto-generated``
    (RFC 3834: no vacation auto-replies to the incident list; ``X-Auto-Response-Suppress``
    says the same to Exchange), and, after the incident's first message to the list,
    ``In-Reply-To``/``References`` to it so that mail clients thread the incident.

    No ``Precedence: bulk``: it is not a standard (RFC 3834 advises against it) and
    some filters file bulk mail away from the inbox, where incident mail must not go."""
    headers = {
        "List-Id": formataddr((audience_name, f"{audience_slug}.incidents.{_domain()}")),
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "All",
    }
    if thread_root_id:
        root = message_id_for(thread_root_id)
        headers.update({"In-Reply-To": root, "References": root})
    return headers


def header_text(value: str, *, limit: int = SUBJECT_MAX) -> str:
    """``value`` safe as a header: one line (CR/LF would be refused, or worse, read as
    a second header by a lax server), at most ``limit`` characters."""
    return one_line(value)[:limit]


def send(
    *,
    recipients: list[str],
    subject: str,
    body: str,
    delivery_id: str,
    headers: dict[str, str] | None = None,
    session: Session | None = None,
) -> SendResult:
    """Send one message; ``headers`` adds to Message-ID and X-Keel-Delivery (a team
    list's ``team_headers``, a subscriber's ``List-Unsubscribe``). Through
    ``session`` (a batch's connection, ``email_session``), or a connection of its
    own; either way within the total deadline."""
    recipients = [address.strip() for address in recipients if address.strip()]
    if not recipients:
        return SendResult(Outcome.GONE, error="No recipients configured.")
    own = Session() if session is None else None
    through = session or own
    message_id = message_id_for(delivery_id, sender=through.from_email)
    try:
        message = EmailMessage(
            subject=header_text(subject),
            body=body,
            from_email=through.from_email,
            to=recipients,
            headers={**(headers or {}), "Message-ID": message_id, "X-Keel-Delivery": delivery_id},
        )
        through.deliver(message)
    except (BadHeaderError, UnicodeError) as exc:
        # This message can never be built, whichever server we try: the delivery dies,
        # the destination stays healthy for every other incident.
        return SendResult(Outcome.PERMANENT, error=f"Unsendable message: {exc}"[:500])
    except smtplib.SMTPRecipientsRefused as exc:
        # ``recipients`` maps each address to the server's (code, reply): name them in words.
        refused = ", ".join(
            f"{address} ({code})" for address, (code, _reply) in exc.recipients.items()
        )
        return SendResult(Outcome.PERMANENT, error=f"Recipients refused: {refused}"[:500])
    except smtplib.SMTPAuthenticationError as exc:
        reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        return SendResult(
            Outcome.CREDENTIALS,
            error=f"SMTP authentication failed: the mail server refused the user name or "
            f"password ({exc.smtp_code} {reply})."[:500],
        )
    except smtplib.SMTPDataError as exc:
        # 5xx after DATA: this message is refused (too large, content policy); 4xx: later.
        error = f"SMTPDataError {exc.smtp_code}: {exc.smtp_error!r}"[:500]
        if 500 <= exc.smtp_code < 600:
            return SendResult(Outcome.PERMANENT, error=error)
        return SendResult.retry(error)
    except (smtplib.SMTPException, OSError) as exc:
        return SendResult.retry(unreachable_words(exc, through.server)[:500])
    finally:
        if own is not None:
            own.close()
    return SendResult.sent(message_id)
