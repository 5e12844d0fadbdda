"""Audiences, routing, status updates and the outbox (one Delivery per update and destination)."""

import base64
import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from common.models import TimeStampedModel
from common.validators import multi_line, single_line
from incidents.models import SHORT_TEXT_MAX, TITLE_MAX, Incident, Service, Severity
from notifications.message_templates import template_errors

MESSAGE_MAX = 4_000


class PublicStatus(models.TextChoices):
    """A public incident's status, in Statuspage's words: one vocabulary for the status
    page (``statuspage.PublicIncident`` and its updates) and the status updates that
    set it. An update carries one of ``UPDATE_PUBLIC_STATUSES``; ``postmortem``
    (resolved, its postmortem out) is Statuspage's and never comes from an update."""

    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"
    POSTMORTEM = "postmortem", "Postmortem"


# The public statuses a status update may carry (its field, the API's and the form's choices).
UPDATE_PUBLIC_STATUSES = [s for s in PublicStatus if s != PublicStatus.POSTMORTEM]
UPDATE_PUBLIC_STATUS_CHOICES = [(s.value, s.label) for s in UPDATE_PUBLIC_STATUSES]


class PublicImpact(models.TextChoices):
    """A public incident's or a maintenance's impact, in Statuspage's words. A status
    update may override its public incident's with one of ``IMPACT_OVERRIDES`` (blank
    lets the component statuses decide); ``maintenance`` is a maintenance's own."""

    NONE = "none", "None"
    MINOR = "minor", "Minor"
    MAJOR = "major", "Major"
    CRITICAL = "critical", "Critical"
    MAINTENANCE = "maintenance", "Maintenance"


# Statuspage's impact_override: what a status update may set, least to most severe.
IMPACT_OVERRIDES = [i for i in PublicImpact if i != PublicImpact.MAINTENANCE]
IMPACT_OVERRIDE_CHOICES = [(i.value, i.label) for i in IMPACT_OVERRIDES]


class PublicResolvedAction(models.TextChoices):
    """What a public update does when the incident's public incident is resolved."""

    REOPEN = "reopen", "Reopen the resolved public incident"
    NEW = "new", "Start a new public incident"


class UpdateKind(models.TextChoices):
    MANUAL = "manual", "Status update"
    DECLARED = "declared", "Incident declared"
    STAGE = "stage", "Stage changed"
    SEVERITY = "severity", "Severity changed"
    RESOLVED = "resolved", "Service restored"
    REOPENED = "reopened", "Incident reopened"
    POSTMORTEM = "postmortem", "Postmortem published"
    REMINDER = "reminder", "Update reminder"
    PERSONAL = "personal", "Personal notice"


# The automatic updates the lifecycle posts: their event is already on the timeline.
AUTOMATIC_KINDS = (
    UpdateKind.DECLARED,
    UpdateKind.STAGE,
    UpdateKind.SEVERITY,
    UpdateKind.RESOLVED,
    UpdateKind.REOPENED,
)


class Audience(TimeStampedModel):
    """Who hears about incidents: responders, CS, the business team, the public."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100, validators=[single_line])
    description = models.CharField(max_length=SHORT_TEXT_MAX, blank=True, validators=[single_line])
    message_template = models.TextField(
        max_length=SHORT_TEXT_MAX,
        blank=True,
        help_text="Wording for this audience. Placeholders: {id} {title} {severity} {stage} "
        "{message} {services} {features} {impact} {url} {next_update} {public_status}. "
        "A line whose placeholder is empty is left out; an empty placeholder in "
        "parentheses, e.g. ({public_status}), drops only the parentheses.",
        validators=[multi_line],
    )
    active = models.BooleanField(default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = template_errors(self.message_template)
        if errors:
            raise ValidationError({"message_template": errors})


class Destination(TimeStampedModel):
    """One channel of an audience: a Slack channel, an email list, a webhook."""

    class Kind(models.TextChoices):
        SLACK = "slack", "Slack channel"
        EMAIL = "email", "Email list"
        WEBHOOK = "webhook", "Outbound webhook"
        STATUSPAGE = "statuspage", "Public status page"

    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="destinations")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=100, validators=[single_line])
    target = models.CharField(
        max_length=500,
        help_text="Slack channel id or #name, comma-separated emails, or a URL.",
        validators=[single_line],
    )
    secret = models.CharField(max_length=100, blank=True, help_text="Webhook signing secret.")
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(
        max_length=SHORT_TEXT_MAX, blank=True, validators=[multi_line]
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notice_destinations",
        help_text="The one person this destination reaches (personal notices, e.g. a "
        "review request); empty for team channels.",
    )

    history = HistoricalRecords(excluded_fields=["secret"])

    class Meta:
        ordering = ["audience", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind"],
                condition=Q(user__isnull=False),
                name="destination_one_per_person_and_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.audience.name}: {self.name}"

    @staticmethod
    def new_secret() -> str:
        """A Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes."""
        return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class Route(TimeStampedModel):
    """Choose audiences by severity, service and update kind. Empty filters match all."""

    name = models.CharField(max_length=100, validators=[single_line])
    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="routes")
    severities = models.ManyToManyField(Severity, blank=True)
    services = models.ManyToManyField(Service, blank=True)
    update_kinds = models.JSONField(
        default=list, blank=True, help_text="Update kinds this route matches; empty = all."
    )
    only_public_updates = models.BooleanField(
        default=False, help_text="Match only updates that carry a public status."
    )
    active = models.BooleanField(default=True)

    history = HistoricalRecords(m2m_fields=[severities, services])

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name


class StatusUpdate(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="status_updates")
    kind = models.CharField(max_length=16, choices=UpdateKind.choices, default=UpdateKind.MANUAL)
    message = models.TextField(max_length=MESSAGE_MAX, validators=[multi_line])
    public_status = models.CharField(
        max_length=16, choices=UPDATE_PUBLIC_STATUS_CHOICES, blank=True
    )
    public_title = models.CharField(max_length=TITLE_MAX, blank=True, validators=[single_line])
    public_resolved_action = models.CharField(
        max_length=16,
        choices=PublicResolvedAction.choices,
        blank=True,
        help_text="Chosen by the responder when the public incident was already resolved.",
    )
    components = models.JSONField(
        default=dict, blank=True, help_text="Component slug → status, checked when posted."
    )
    public_impact = models.CharField(
        max_length=16,
        choices=IMPACT_OVERRIDE_CHOICES,
        blank=True,
        help_text="Impact the public incident shows; blank: the worst component status decides.",
    )
    next_update_at = models.DateTimeField(null=True, blank=True)
    audiences = models.ManyToManyField(Audience, related_name="updates")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # An incident's updates in order: its Communications tab, and the first
            # update that emailed a destination (the thread root of the next email).
            models.Index(fields=["incident", "created_at", "id"], name="update_incident_order"),
        ]

    def __str__(self) -> str:
        return f"Update on #{self.incident_id} at {self.created_at:%H:%M}"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (retrying)"
    DEAD = "dead", "Dead"
    SKIPPED = "skipped", "Skipped"


class OutboxMessage(models.Model):
    """What the delivery engine (``notifications.engine``) needs of a row it sends:
    status, attempts, when next, the lease, the outcome. Team deliveries and status
    page subscriber notifications are both outbox messages; each table keeps what
    it is about (an update to a destination; an event to a subscriber)."""

    Status = OutboxStatus

    class Failure(models.TextChoices):
        """What the channel said about the last failed attempt (the adapter's outcome)."""

        TRANSIENT = "transient", "Transient: may pass by itself"
        PERMANENT = "permanent", "Refused: this message can never be sent there"
        GONE = "gone", "The destination no longer exists"
        CREDENTIALS = "credentials", "The channel's credentials are broken"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    total_attempts = models.PositiveSmallIntegerField(
        default=0,
        help_text="Attempts over the delivery's whole life. A replay starts attempts "
        "again from 0 but not this, so the adapter still looks for what an earlier "
        "attempt may have posted before posting again.",
    )
    next_attempt_at = models.DateTimeField(db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    external_id = models.CharField(max_length=255, blank=True)
    last_error = models.CharField(max_length=SHORT_TEXT_MAX, blank=True)
    failure = models.CharField(max_length=16, choices=Failure.choices, blank=True)

    class Meta:
        abstract = True


class Delivery(TimeStampedModel, OutboxMessage):
    """The outbox row: one update to one destination, until sent or dead."""

    update = models.ForeignKey(StatusUpdate, on_delete=models.CASCADE, related_name="deliveries")
    destination = models.ForeignKey(
        Destination, on_delete=models.CASCADE, related_name="deliveries"
    )
    rendered_text = models.TextField(max_length=MESSAGE_MAX * 2, blank=True)
    rendered_subject = models.CharField(
        max_length=250,
        blank=True,
        help_text="Email: the subject, rendered with the text when the update was written, "
        "so a retry says what the message said then.",
    )
    thread_root = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Email: the incident's first message to this destination, which later "
        "ones answer (In-Reply-To, References) so mail clients thread them.",
    )

    history = HistoricalRecords(excluded_fields=["lease_until", "updated_at"])

    class Meta:
        ordering = ["created_at"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["update", "destination"], name="delivery_once"),
        ]
        indexes = [
            models.Index(
                fields=["status", "next_attempt_at"],
                condition=Q(status__in=["pending", "sending", "failed"]),
                name="delivery_due_idx",
            ),
            # The live list's version token reads the latest change to a delivery.
            models.Index(fields=["-updated_at"], name="delivery_latest_change"),
        ]

    def __str__(self) -> str:
        return f"{self.destination} ← {self.update}"


class CircuitBreaker(models.Model):
    """Per-destination breaker state in the database, shared by every worker process."""

    key = models.CharField(max_length=100, unique=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_until = models.DateTimeField(null=True, blank=True)
    last_failure = models.CharField(max_length=SHORT_TEXT_MAX, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.key


class ChannelPause(models.Model):
    """A whole channel kind paused because its credentials broke (e.g. Slack ``invalid_auth``)."""

    kind = models.CharField(max_length=16, choices=Destination.Kind.choices, unique=True)
    reason = models.CharField(max_length=SHORT_TEXT_MAX, validators=[multi_line])
    paused_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.kind} paused: {self.reason}"


class SlackAnnouncement(models.Model):
    """The incident's root message in a Slack channel, updated in place by its ``ts``.

    Written before the first post: a blank ``ts`` says a post was attempted
    (since ``created_at``) and its outcome is not known yet, so the next attempt,
    whichever delivery makes it, looks the message up before posting."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="+")
    channel_id = models.CharField(max_length=50)
    ts = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "destination"], name="slack_announcement_once"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.incident_id} in {self.channel_id} at {self.ts}"


class CadenceReminder(models.Model):
    """One reminder per (incident, audience, missed due time): the beat never nags twice."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="+")
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "audience", "due_at"], name="cadence_reminder_once"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.incident_id} {self.audience} due {self.due_at:%H:%M}"


class SlackRequest(models.Model):
    """One signed request from Slack (slash command or button click), kept so a
    retried delivery is recognised and the worker acts on it exactly once."""

    class Kind(models.TextChoices):
        COMMAND = "command", "Slash command"
        INTERACTION = "interaction", "Interaction"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        DONE = "done", "Done"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Failed"

    team_id = models.CharField(max_length=32)
    dedupe_key = models.CharField(
        max_length=255, help_text="Slack's trigger_id, or a hash of the body when it has none."
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    slack_user_id = models.CharField(max_length=32)
    payload = models.JSONField(help_text="The parsed command or action the worker carries out.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    reply = models.TextField(max_length=MESSAGE_MAX, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    retries_seen = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["team_id", "dedupe_key"], name="slack_request_once")
        ]

    def __str__(self) -> str:
        return f"Slack {self.kind} {self.dedupe_key} ({self.status})"


class IncidentSlackChannel(models.Model):
    """The incident's own Slack channel. ``pending`` until a worker has created
    it, invited the commander and responders and posted the announcement."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, related_name="slack_channel"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    name = models.CharField(max_length=80, validators=[single_line])
    channel_id = models.CharField(max_length=50, blank=True, db_index=True)
    announcement_ts = models.CharField(max_length=50, blank=True)
    invited = models.JSONField(
        default=list, blank=True, help_text="Keel usernames invited to the channel."
    )
    last_error = models.CharField(max_length=SHORT_TEXT_MAX, blank=True)
    lease_until = models.DateTimeField(
        null=True, blank=True, help_text="A worker is setting the channel up until then."
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="ready") | ~Q(channel_id=""),
                name="incident_slack_channel_ready_has_id",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.name} for incident #{self.incident_id} ({self.status})"


class WorkerHeartbeat(models.Model):
    """The last time a worker ran the beat's heartbeat task, one row per worker host.

    Written through the queue (beat → broker → a worker → here), so a fresh row
    means the beat, the broker and at least one worker all work: what the sweeper
    needs. /readyz, /metrics and the incident banner read its age."""

    hostname = models.CharField(max_length=255, unique=True)
    seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.hostname} seen {self.seen_at:%H:%M:%S}"


# The Slack conversation captured onto timelines (events received, messages
# captured) and personal notices' preferences, Slack ids and ledger: own modules.
from notifications.capture_models import SlackCapturedMessage, SlackEvent  # noqa: E402, F401
from notifications.personal_models import (  # noqa: E402, F401
    NoticeChannel,
    NoticeKind,
    NotificationPreference,
    PersonalNotice,
    SlackUserLink,
)
