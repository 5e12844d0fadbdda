"""What admins set in Settings: the Slack credentials, their connection checks,
and the test sends of destinations (outbox rows on the delivery engine)."""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from common.models import TimeStampedModel
from incidents.models import SHORT_TEXT_MAX
from notifications.models import MESSAGE_MAX, Destination, OutboxMessage

ENCRYPTED_MAX = 2_000
TOKEN_MAX = 255
HOST_MAX = 253  # the longest DNS name
SMTP_USER_MAX = 254
SMTP_PASSWORD_MAX = 255
EMAIL_MAX = 254


class SlackSettings(TimeStampedModel):
    """The Slack app's credentials entered in Settings (one row, ``pk=1``). The
    environment's ``SLACK_BOT_TOKEN`` / ``SLACK_SIGNING_SECRET`` win when set
    (``workspace.slack_credentials``). History keeps who changed what and the
    last four characters, never the encrypted values."""

    bot_token_encrypted = models.TextField(max_length=ENCRYPTED_MAX, blank=True)
    bot_token_last4 = models.CharField(max_length=4, blank=True)
    signing_secret_encrypted = models.TextField(max_length=ENCRYPTED_MAX, blank=True)
    signing_secret_last4 = models.CharField(max_length=4, blank=True)
    team = models.CharField(
        max_length=SHORT_TEXT_MAX, blank=True, help_text="The workspace auth.test named."
    )

    history = HistoricalRecords(excluded_fields=["bot_token_encrypted", "signing_secret_encrypted"])

    class Meta:
        verbose_name_plural = "Slack settings"

    def __str__(self) -> str:
        return f"Slack settings (token …{self.bot_token_last4 or '-'})"


class EmailSettings(TimeStampedModel):
    """The SMTP server entered in Settings → Email (one row, ``pk=1``), used by every
    email send unless ``EMAIL_HOST`` is set in the environment
    (``notifications.channels.mail_server``). The password is encrypted and left
    out of the history."""

    class Security(models.TextChoices):
        STARTTLS = "starttls", "STARTTLS (usually port 587)"
        SSL = "ssl", "SSL/TLS from the start (usually port 465)"
        NONE = "none", "None (a local relay only)"

    host = models.CharField(max_length=HOST_MAX)
    port = models.PositiveIntegerField(default=587)
    security = models.CharField(max_length=16, choices=Security.choices, default=Security.STARTTLS)
    username = models.CharField(max_length=SMTP_USER_MAX, blank=True)
    password_encrypted = models.TextField(max_length=ENCRYPTED_MAX, blank=True)
    from_email = models.EmailField(max_length=EMAIL_MAX)
    timeout = models.PositiveSmallIntegerField(default=10, help_text="Seconds per SMTP step.")

    history = HistoricalRecords(excluded_fields=["password_encrypted"])

    class Meta:
        verbose_name_plural = "Email settings"

    def __str__(self) -> str:
        return f"SMTP {self.host}:{self.port}"


class SlackCheck(models.Model):
    """One **Test connection**: ``auth.test`` and ``conversations.list`` run by a
    worker (never on the request path) with a candidate token, or the one in use
    when ``token_encrypted`` is blank. A candidate that passes is saved; one that
    fails is saved only when the admin confirms (``applied_at``)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Checking"
        OK = "ok", "Connected"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    token_encrypted = models.TextField(max_length=ENCRYPTED_MAX, blank=True)
    token_last4 = models.CharField(max_length=4, blank=True)
    signing_secret_encrypted = models.TextField(max_length=ENCRYPTED_MAX, blank=True)
    signing_secret_last4 = models.CharField(max_length=4, blank=True)
    team = models.CharField(max_length=SHORT_TEXT_MAX, blank=True)
    bot_user = models.CharField(max_length=SHORT_TEXT_MAX, blank=True)
    error = models.CharField(max_length=SHORT_TEXT_MAX, blank=True)
    channels = models.JSONField(
        default=list, blank=True, help_text="[{id, name}] from conversations.list, by name."
    )
    channels_truncated = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Slack check {self.pk} ({self.status})"

    @property
    def candidate(self) -> bool:
        return bool(self.token_encrypted)


class DestinationTestSend(TimeStampedModel, OutboxMessage):
    """A test message to one destination, sent by the delivery engine like any
    delivery (pause, breaker, retry, sweep) and listed in the destinations log."""

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="+")
    rendered_text = models.TextField(max_length=MESSAGE_MAX)
    rendered_subject = models.CharField(max_length=250, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    history = HistoricalRecords(excluded_fields=["lease_until", "updated_at"])

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Test to {self.destination.name}"
