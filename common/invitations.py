"""Invitations by email: invite, resend, revoke, accept (with a password, or through
single sign-on), each with its history and account-event rows.

The email leaves after commit through a Celery task (``notifications.invitation_mail``,
connected at start-up) and Keel's one email path (``notifications.channels.email``: the
total deadline, typed outcome); the invitation row records whether it went, and the
people page offers a resend.
"""

import hashlib
import hmac
import secrets
from base64 import urlsafe_b64encode
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from common import people
from common.exceptions import Conflict, InvalidInput
from common.people_models import AccountEvent, Invitation, Role

User = get_user_model()
Source = AccountEvent.Source
TOKEN_MAX = 100


def token_for(invitation: Invitation) -> str:
    digest = hmac.new(
        settings.SECRET_KEY.encode(),
        f"keel-invitation:{invitation.nonce}".encode(),
        hashlib.sha256,
    ).digest()
    return urlsafe_b64encode(digest).decode().rstrip("=")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def accept_url(invitation: Invitation) -> str:
    return f"{settings.KEEL_PUBLIC_URL}/invitations/{token_for(invitation)}/"


def _arm(invitation: Invitation) -> None:
    """A fresh nonce (a new link, the old one dead), a new expiry, email to send."""
    invitation.nonce = secrets.token_urlsafe(32)
    invitation.token_hash = hash_token(token_for(invitation))
    invitation.expires_at = timezone.now() + timedelta(hours=settings.KEEL_INVITATION_MAX_AGE_HOURS)
    invitation.email_status = Invitation.EmailStatus.PENDING
    invitation.email_error = ""
    invitation.email_queued_at = timezone.now()


# Who sends the email: notifications connects it at start-up (common imports no app).
_email_sender: Callable[[Invitation], None] | None = None


def connect_email_sender(sender: Callable[[Invitation], None]) -> None:
    global _email_sender
    _email_sender = sender


def _send_after_commit(invitation: Invitation) -> None:
    if _email_sender is None:
        raise ImproperlyConfigured("No invitation email sender is connected (notifications).")
    _email_sender(invitation)


def invitations_email_stuck(*, older_than: timedelta):
    """Open invitations whose email is still queued ``older_than`` after it was: its
    task was lost (broker outage, killed worker). Every retry of a task ends well
    before ``INVITATION_SWEEP_AFTER``, so a swept email is not also being retried."""
    return Invitation.objects.filter(
        email_status=Invitation.EmailStatus.PENDING,
        email_queued_at__lt=timezone.now() - older_than,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    )


def _clean_email(email: str) -> str:
    email = (email or "").strip().lower()
    if len(email) > 254:
        raise InvalidInput("Email: at most 254 characters.", field="email")
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput(
            "Email: enter an address like name@example.com.", field="email"
        ) from None
    return email


@transaction.atomic
def invitation_create(*, email: str, role: str, actor) -> Invitation:
    """Invite ``email`` as ``role``: the row, its history, an account event, and the
    email after commit. Someone who already has an account, or an open invitation,
    is not invited twice."""
    email = _clean_email(email)
    if role not in Role.values:
        raise InvalidInput("Role: choose admin, responder or viewer.", field="role")
    if User.objects.filter(email__iexact=email).exists():
        raise InvalidInput(f"Email: {email} already has a Keel account.", field="email")
    open_ones = Invitation.objects.filter(
        email=email, accepted_at__isnull=True, revoked_at__isnull=True
    )
    if open_ones.filter(expires_at__gt=timezone.now()).exists():
        raise InvalidInput(
            f"Email: {email} already has an open invitation; resend it instead.", field="email"
        )
    for expired in open_ones.select_for_update():
        _revoke(expired, actor=actor, reason="Expired; replaced by a new invitation")
    invitation = Invitation(email=email, role=role, invited_by=actor)
    _arm(invitation)
    invitation._history_user = actor
    invitation._change_reason = f"Invited as {Role(role).label}"
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError:
        raise Conflict(f"Email: {email} was invited a moment ago.", field="email") from None
    people.record(
        kind=AccountEvent.Kind.INVITED,
        source=Source.WEB,
        actor=actor,
        email=email,
        detail=f"As {Role(role).label}",
    )
    _send_after_commit(invitation)
    return invitation


def _locked_open(invitation: Invitation) -> Invitation:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise Conflict(f"The invitation of {invitation.email} is already {invitation.state}.")
    return invitation


@transaction.atomic
def invitation_resend(*, invitation: Invitation, actor) -> Invitation:
    """A new link (the old one stops working), a new expiry, the email again."""
    invitation = _locked_open(invitation)
    _arm(invitation)
    invitation._history_user = actor
    invitation._change_reason = "Resent with a new link"
    invitation.save()
    _send_after_commit(invitation)
    return invitation


def _revoke(invitation: Invitation, *, actor, reason: str) -> None:
    invitation.revoked_at = timezone.now()
    invitation._history_user = actor
    invitation._change_reason = reason
    invitation.save()
    people.record(
        kind=AccountEvent.Kind.INVITATION_REVOKED,
        source=Source.WEB,
        actor=actor,
        email=invitation.email,
        detail=reason,
    )


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor) -> Invitation:
    invitation = _locked_open(invitation)
    _revoke(invitation, actor=actor, reason="Revoked")
    return invitation


def invitation_for_token(token: str) -> Invitation | None:
    """The open, unexpired invitation this link is for; None otherwise."""
    if not token or len(token) > TOKEN_MAX:
        return None
    invitation = Invitation.objects.filter(
        token_hash=hash_token(token), accepted_at__isnull=True, revoked_at__isnull=True
    ).first()
    if invitation is None or invitation.expires_at <= timezone.now():
        return None
    # The stored hash matched; compare the derived token too (a resend changed it).
    return invitation if hmac.compare_digest(token_for(invitation), token) else None


def _mark_accepted(invitation: Invitation, *, user, source: str) -> None:
    invitation.accepted_at = timezone.now()
    invitation.accepted_user = user
    invitation._history_user = user
    invitation._change_reason = f"Accepted ({Source(source).label})"
    invitation.save()
    people.record(
        kind=AccountEvent.Kind.INVITATION_ACCEPTED,
        source=source,
        actor=user,
        user=user,
        detail=f"Invited as {Role(invitation.role).label}",
    )


@transaction.atomic
def invitation_accept(*, token: str, username: str, password: str, password_again: str):
    """Create the invited person's account with the invitation's role and a password;
    the link is spent. Field-level errors for a taken or malformed username and a
    password the validators refuse."""
    found = invitation_for_token(token)
    if found is None:
        raise Conflict("This invitation link is no longer valid: ask an admin for a new one.")
    invitation = Invitation.objects.select_for_update().get(pk=found.pk)
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise Conflict("This invitation link is no longer valid: ask an admin for a new one.")
    username = (username or "").strip()
    if not username or len(username) > 150:
        raise InvalidInput("Username: 1 to 150 characters.", field="username")
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError:
        raise InvalidInput(
            "Username: letters, digits and @ . + - _ only.", field="username"
        ) from None
    if User.objects.filter(username__iexact=username).exists():
        raise InvalidInput(f"Username: {username} is taken; choose another.", field="username")
    if password != password_again:
        raise InvalidInput("Password (again): the two passwords differ.", field="password_again")
    if len(password) > 128:
        raise InvalidInput("Password: at most 128 characters.", field="password")
    candidate = User(username=username, email=invitation.email)
    try:
        password_validation.validate_password(password, user=candidate)
    except ValidationError as exc:
        raise InvalidInput("Password: " + " ".join(exc.messages), field="password") from None
    user = User.objects.create_user(username=username, email=invitation.email, password=password)
    people.record(
        kind=AccountEvent.Kind.CREATED,
        source=Source.INVITATION,
        actor=user,
        user=user,
        detail="Created from an invitation",
    )
    people.user_role_set(user=user, role=invitation.role, actor=user, source=Source.INVITATION)
    _mark_accepted(invitation, user=user, source=Source.INVITATION)
    return user


def invitation_accept_by_sso(*, user) -> None:
    """An invited person who signs in with SSO spends their open invitation; their
    role comes from their identity provider's groups, as for everyone signing in so."""
    for invitation in Invitation.objects.select_for_update().filter(
        email__iexact=user.email, accepted_at__isnull=True, revoked_at__isnull=True
    ):
        _mark_accepted(invitation, user=user, source=Source.SSO)


def invitations_open():
    return Invitation.objects.filter(
        accepted_at__isnull=True, revoked_at__isnull=True
    ).select_related("invited_by")
