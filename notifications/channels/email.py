"""Email to CS/business lists through Django's email backend, one stable Message-ID per delivery."""

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from notifications.channels.base import Outcome, SendResult


def message_id_for(delivery_id: str) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "keel.local"
    return f"<delivery-{delivery_id}@{domain}>"


def send(*, recipients: list[str], subject: str, body: str, delivery_id: str) -> SendResult:
    recipients = [address.strip() for address in recipients if address.strip()]
    if not recipients:
        return SendResult(Outcome.GONE, error="No recipients configured.")
    message_id = message_id_for(delivery_id)
    message = EmailMessage(
        subject=subject[:250],
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={"Message-ID": message_id, "X-Keel-Delivery": delivery_id},
        connection=get_connection(
            timeout=min(settings.EMAIL_TIMEOUT, settings.KEEL_OUTBOUND_TIMEOUT_SECONDS)
        ),
    )
    try:
        message.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        return SendResult(Outcome.PERMANENT, error=f"Recipients refused: {exc.recipients}"[:500])
    except smtplib.SMTPAuthenticationError as exc:
        return SendResult(Outcome.CREDENTIALS, error=f"SMTP authentication failed: {exc}"[:500])
    except (smtplib.SMTPException, OSError) as exc:
        return SendResult.retry(f"{type(exc).__name__}: {exc}"[:500])
    return SendResult.sent(message_id)
