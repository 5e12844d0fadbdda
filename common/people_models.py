"""People: the audit log of account changes and the invitations (``common.people``,
``common.invitations`` write them). Imported by ``common.models``."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from common.validators import single_line


class Role(models.TextChoices):
    """Keel's roles, as the permissions know them (``common.roles``: each role
    is a Django group). Viewers are the CS and business people who read."""

    ADMIN = "admin", "Admin"
    RESPONDER = "responder", "Responder"
    VIEWER = "viewer", "Viewer (CS, business)"


class AccountEvent(models.Model):
    """One change to a person's account, append-only: who did it, to whom, from where.

    The users table is Django's and carries no history of its own; this is the audit
    trail of sign-ins by SSO, role changes, deactivations and invitations."""

    class Kind(models.TextChoices):
        SSO_LOGIN = "sso_login", "Signed in with SSO"
        SSO_REFUSED = "sso_refused", "Refused by SSO group mapping"
        CREATED = "created", "Account created"
        ROLE_CHANGED = "role_changed", "Role changed"
        DEACTIVATED = "deactivated", "Deactivated"
        REACTIVATED = "reactivated", "Reactivated"
        INVITED = "invited", "Invited"
        INVITATION_REVOKED = "invitation_revoked", "Invitation revoked"
        INVITATION_ACCEPTED = "invitation_accepted", "Invitation accepted"

    class Source(models.TextChoices):
        WEB = "web", "Settings page"
        SSO = "sso", "Single sign-on"
        INVITATION = "invitation", "Invitation link"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="account_events",
        help_text="Whose account; empty for an invitation not yet accepted.",
    )
    email = models.EmailField(max_length=254, blank=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    source = models.CharField(max_length=16, choices=Source.choices)
    detail = models.CharField(max_length=300, blank=True, validators=[single_line])
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.user or self.email}"


class Invitation(models.Model):
    """An invitation by email with a one-time link.

    The link's token is an HMAC (keyed by ``SECRET_KEY``) of the row and its random
    ``nonce``, and only its SHA-256 is stored: the database alone cannot make a link,
    the worker re-derives the same link on every retry, and a resend (a new nonce)
    ends the old link."""

    class EmailStatus(models.TextChoices):
        PENDING = "pending", "Email queued"
        SENT = "sent", "Email sent"
        FAILED = "failed", "Email failed"

    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    nonce = models.CharField(max_length=64, editable=False)
    token_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    email_status = models.CharField(
        max_length=16, choices=EmailStatus.choices, default=EmailStatus.PENDING
    )
    email_error = models.CharField(max_length=500, blank=True)
    email_queued_at = models.DateTimeField(
        null=True, blank=True, help_text="When the current link's email was queued."
    )
    expires_at = models.DateTimeField()
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["nonce", "token_hash"])

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"Invitation of {self.email} as {self.role}"

    @property
    def state(self) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        return "open" if self.expires_at > timezone.now() else "expired"
