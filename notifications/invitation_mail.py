"""The invitation email (``common.invitations``), sent by the worker through the email
channel: connected to ``common.invitations`` at start-up (``NotificationsConfig.ready``),
since ``common`` imports no app."""

import logging
from datetime import timedelta

from celery import shared_task
from django.db import transaction

from common.enqueue import enqueue_on_commit, publish
from common.invitations import accept_url, invitations_email_stuck
from common.people_models import Invitation
from notifications.channels import email as email_channel
from notifications.channels.base import Outcome

logger = logging.getLogger(__name__)

RETRY_LIMIT = 5  # backoff 4, 8, 16, 32, 64 s: about two minutes in all
INVITATION_SWEEP_AFTER = timedelta(minutes=15)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def invitation_email_send_task(self, invitation_id: int, nonce: str) -> str:
    """Send the invitation's email once for this link (``nonce``): a resend armed a new
    link, and a duplicate task finds the email already sent. Transient failures retry
    with backoff; what can never be sent is recorded on the invitation, shown on the
    people page with a resend."""
    invitation = Invitation.objects.filter(pk=invitation_id, nonce=nonce).first()
    if invitation is None or invitation.state != "open":
        return "skipped"
    if invitation.email_status == Invitation.EmailStatus.SENT:
        return "already sent"
    inviter = "A Keel admin"
    if invitation.invited_by is not None:
        inviter = invitation.invited_by.get_full_name() or invitation.invited_by.username
    result = email_channel.send(
        recipients=[invitation.email],
        subject="You are invited to Keel",
        body=(
            f"{inviter} invited you to Keel, where incidents are declared, driven and "
            f"written up.\n\nAccept the invitation: {accept_url(invitation)}\n\n"
            f"The link works once and until {invitation.expires_at:%Y-%m-%d %H:%M} UTC."
        ),
        delivery_id=f"invitation-{invitation.pk}-{nonce[:12]}",
    )
    if result.outcome == Outcome.RETRY and self.request.retries < RETRY_LIMIT:
        countdown = result.retry_after or 2 ** (self.request.retries + 2)
        raise self.retry(countdown=countdown)
    status = (
        Invitation.EmailStatus.SENT
        if result.outcome == Outcome.SENT
        else Invitation.EmailStatus.FAILED
    )
    with transaction.atomic():
        locked = (
            Invitation.objects.select_for_update().filter(pk=invitation_id, nonce=nonce).first()
        )
        if locked is None:
            return "superseded"
        locked.email_status = status
        locked.email_error = result.error[:500]
        locked._change_reason = f"Email {status}"
        locked.save(update_fields=["email_status", "email_error"])
    if status != Invitation.EmailStatus.SENT:
        logger.warning(
            "invitation email failed invitation=%s error=%s", invitation_id, result.error
        )
    return status


@shared_task(ignore_result=True)
def invitation_emails_sweep_task() -> int:
    """Beat: queue again the invitation emails whose task was lost."""
    stuck = list(
        invitations_email_stuck(older_than=INVITATION_SWEEP_AFTER).values_list("pk", "nonce")
    )
    publish(
        [(invitation_email_send_task, (pk, nonce)) for pk, nonce in stuck],
        what="swept invitation emails",
    )
    return len(stuck)


def invitation_email_enqueue(invitation: Invitation) -> None:
    """After commit, the task that sends ``invitation``'s email for its current link."""
    enqueue_on_commit(
        [(invitation_email_send_task, (invitation.pk, invitation.nonce))], what="invitation email"
    )
