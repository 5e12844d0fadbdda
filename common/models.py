from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from common.validators import single_line


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class IdempotencyKey(models.Model):
    """The first response to a creating POST, kept so a retry replays it.

    The row is inserted at the start of the request's transaction: a concurrent
    request with the same key blocks on the unique index until the first
    commits, then reads and replays its response.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    scope = models.CharField(max_length=255, help_text="Method and path the key was used on.")
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "scope", "key"], name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"


def validate_token_scopes(value: str) -> None:
    """``scopes`` is a comma-separated subset of ``ApiToken.Scope`` (at least one)."""
    names = value.split(",") if value else []
    unknown = [name for name in names if name not in ApiToken.Scope.values]
    if not names or unknown or len(set(names)) != len(names):
        raise ValidationError(
            "Give one or more of %(known)s, separated by commas, each once.",
            params={"known": ", ".join(ApiToken.Scope.values)},
            code="invalid_scopes",
        )


class ApiToken(models.Model):
    """An API credential. Only a SHA-256 of the key is stored: the key itself is
    shown once, when it is minted (``common.tokens.api_token_create``).

    The row is kept after revocation (``revoked_at``/``revoked_by``) so the audit
    trail of who held which credential, and when it was last used, survives.

    ``scopes`` bounds what the key may do (``common.scopes``); ``kind`` says whose
    it is: a person's own (``personal``) or an integration's (``integration``,
    minted by an admin for a service user such as "alertmanager", so it outlives
    any one person's account). The API always acts as ``user``.
    """

    class Scope(models.TextChoices):
        READ = "read", "Read (GET)"
        WRITE = "write", "Write (POST, PATCH, DELETE)"
        INTAKE = "intake", "Integration intake (/api/v1/integrations/)"

    class Kind(models.TextChoices):
        PERSONAL = "personal", "Personal"
        INTEGRATION = "integration", "Integration"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(
        max_length=100,
        validators=[single_line],
        help_text="What the token is for, e.g. 'Alertmanager'.",
    )
    prefix = models.CharField(
        max_length=16, db_index=True, help_text="The key's first characters, to recognise it."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PERSONAL)
    scopes = models.CharField(
        max_length=32,
        default="read,write",
        validators=[validate_token_scopes],
        help_text="Comma-separated: read, write, intake.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    # The hash stays out of the audit copy; ``last_used_at`` is bookkeeping
    # (``api_token_touch`` writes it with a conditional UPDATE), not an audit event.
    history = HistoricalRecords(excluded_fields=["key_hash", "last_used_at"])

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scopes__regex=r"^(read|write|intake)(,(read|write|intake))*$"),
                name="api_token_scopes_known",
            )
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name}) of {self.user}"

    @property
    def is_active(self) -> bool:
        from django.utils import timezone

        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()

    @property
    def scope_list(self) -> list[str]:
        return [name for name in self.scopes.split(",") if name]

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.is_active else "expired"


class UserProfile(models.Model):
    """A person's preferences for the web UI. One row per user, written on the first
    change (``common.profiles.user_profile_update``); a user without one sees UTC.

    The time zone changes how the pages *show* times; what is stored, exported and
    served by the API stays UTC.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        help_text="An IANA time zone name (e.g. Asia/Seoul); the pages show times in it.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = "user profile"

    def __str__(self) -> str:
        return f"{self.user} ({self.time_zone})"


from common.people_models import AccountEvent, Invitation, Role  # noqa: E402, F401
