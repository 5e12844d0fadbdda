from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from common.models import TimeStampedModel
from common.validators import multi_line, single_line
from incidents.lifecycle import Outcome, Stage

TITLE_MAX = 200
TEXT_MAX = 10_000
SHORT_TEXT_MAX = 1_000


class Team(TimeStampedModel):
    name = models.CharField(max_length=100, unique=True, validators=[single_line])
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(max_length=SHORT_TEXT_MAX, blank=True, validators=[multi_line])
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="teams")

    history = HistoricalRecords(m2m_fields=[members])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Service(TimeStampedModel):
    class Tier(models.IntegerChoices):
        CRITICAL = 1, "Tier 1 — critical"
        IMPORTANT = 2, "Tier 2 — important"
        SUPPORTING = 3, "Tier 3 — supporting"

    name = models.CharField(max_length=100, unique=True, validators=[single_line])
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(max_length=SHORT_TEXT_MAX, blank=True, validators=[multi_line])
    owner_team = models.ForeignKey(
        Team, on_delete=models.PROTECT, related_name="services", null=True, blank=True
    )
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, default=Tier.IMPORTANT)

    history = HistoricalRecords()

    class Meta:
        ordering = ["tier", "name"]

    def __str__(self) -> str:
        return self.name


class Severity(TimeStampedModel):
    """SEV1-SEV4 with their definitions and the response each requires (editable)."""

    code = models.CharField(max_length=8, unique=True, validators=[single_line])
    name = models.CharField(max_length=100, validators=[single_line])
    rank = models.PositiveSmallIntegerField(unique=True, help_text="1 is the most severe.")
    definition = models.TextField(max_length=SHORT_TEXT_MAX, validators=[multi_line])
    required_response = models.TextField(max_length=SHORT_TEXT_MAX, validators=[multi_line])
    postmortem_required = models.BooleanField(default=False)
    update_interval_minutes = models.PositiveIntegerField(
        default=60, help_text="Default cadence of status updates while open."
    )
    page_business_team = models.BooleanField(default=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["rank"]
        verbose_name_plural = "severities"

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class Change(TimeStampedModel):
    """A change or deploy that may have preceded an incident (seed 001). Recorded by
    people or posted by CI (``POST /api/v1/changes/``); an incident's responders can
    mark one as its trigger (``Incident.preceding_change``)."""

    class Kind(models.TextChoices):
        DEPLOY = "deploy", "Deploy"
        CONFIG = "config", "Config change"
        FEATURE_FLAG = "feature_flag", "Feature flag"
        MIGRATION = "migration", "Migration"

    title = models.CharField(max_length=TITLE_MAX, validators=[single_line])
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.DEPLOY)
    service = models.ForeignKey(Service, on_delete=models.SET_NULL, null=True, blank=True)
    reference = models.CharField(
        max_length=200,
        blank=True,
        help_text="Version, commit, tag or ticket (the API calls it version).",
        validators=[single_line],
    )
    url = models.URLField(max_length=500, blank=True)
    deployed_at = models.DateTimeField()
    deployed_by = models.CharField(max_length=150, blank=True, validators=[single_line])
    source = models.CharField(
        max_length=100,
        blank=True,
        help_text="What reported it: github-actions, gitlab-ci, argocd, a person…",
        validators=[single_line],
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-deployed_at", "-id"]
        indexes = [models.Index(fields=["service", "-deployed_at"], name="change_service_at")]

    def __str__(self) -> str:
        return f"{self.title} ({self.deployed_at:%Y-%m-%d %H:%M})"


class DetectionSource(models.TextChoices):
    MONITORING = "monitoring", "Monitoring / alert"
    CUSTOMER_REPORT = "customer_report", "Customer report"
    INTERNAL = "internal", "Internal (staff noticed)"
    DEPLOY_CHECK = "deploy_check", "Deploy check"


class Category(models.TextChoices):
    """Seed 002's tree: controllable (technical or human) or uncontrollable."""

    SOFTWARE = "technical.software", "Controllable › Technical › Software"  # noqa: RUF001
    HARDWARE = "technical.hardware", "Controllable › Technical › Hardware"  # noqa: RUF001
    NETWORK = "technical.network", "Controllable › Technical › Network"  # noqa: RUF001
    ENVIRONMENT = "technical.environment", "Controllable › Technical › Environment"  # noqa: RUF001
    HUMAN = "human", "Controllable › Human"  # noqa: RUF001
    UNCONTROLLABLE = "uncontrollable", "Uncontrollable"


class FailurePattern(models.TextChoices):
    CASCADING = "cascading", "Cascading failure"
    PARTIAL = "partial", "Partial failure"
    DUPLICATE_REQUEST = "duplicate_request", "Duplicate request"
    SILENT = "silent", "Silent failure"
    BAD_INPUT = "bad_input", "Bad input"
    DEPENDENCY = "dependency", "Dependency failure"
    CAPACITY = "capacity", "Capacity"
    CHANGE = "change", "Change / deploy"
    HUMAN_ERROR = "human_error", "Human error"


# The incident's history, kept by name: a declare inserts its services without the
# many-to-many signals and then writes its one first history row, services included
# (``incidents.services.incident_declare``), instead of a row per step.
INCIDENT_HISTORY = HistoricalRecords(m2m_fields=["services", "responders"])


class Incident(TimeStampedModel):
    title = models.CharField(max_length=TITLE_MAX, validators=[single_line])
    summary = models.TextField(max_length=TEXT_MAX, blank=True, validators=[multi_line])
    severity = models.ForeignKey(Severity, on_delete=models.PROTECT, related_name="incidents")
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.DETECT)
    private = models.BooleanField(
        default=False, help_text="Visible only to participants and admins (e.g. security)."
    )

    started_at = models.DateTimeField(help_text="When impact began; may precede detection.")
    detected_at = models.DateTimeField()
    detected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    propagated_at = models.DateTimeField(null=True, blank=True)
    propagated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    judged_at = models.DateTimeField(null=True, blank=True)
    judged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recovered_at = models.DateTimeField(null=True, blank=True)
    recovered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    analyzed_at = models.DateTimeField(null=True, blank=True)
    analyzed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    shared_at = models.DateTimeField(null=True, blank=True)
    shared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    retrospected_at = models.DateTimeField(null=True, blank=True)
    retrospected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    outcome = models.CharField(
        max_length=16,
        choices=Outcome.choices,
        blank=True,
        help_text="How it ended; set when it closes. Only resolved ones count in the metrics.",
    )
    outcome_reason = models.TextField(
        max_length=TEXT_MAX, blank=True, validators=[multi_line], help_text="Said when closing."
    )
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="duplicates",
        help_text="The incident that tracks this one's work (outcome: duplicate).",
    )
    reopened_count = models.PositiveSmallIntegerField(default=0)

    detection_source = models.CharField(
        max_length=32, choices=DetectionSource.choices, default=DetectionSource.INTERNAL
    )
    detected_before_customers = models.BooleanField(null=True, blank=True)

    affected_users_count = models.PositiveIntegerField(null=True, blank=True)
    affected_users_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    services = models.ManyToManyField(Service, blank=True, related_name="incidents")
    affected_features = models.CharField(
        max_length=SHORT_TEXT_MAX, blank=True, validators=[single_line]
    )

    estimated_loss = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    compensation = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    sla_minutes_breached = models.PositiveIntegerField(null=True, blank=True)

    category = models.CharField(max_length=32, choices=Category.choices, blank=True)
    failure_patterns = models.JSONField(default=list, blank=True)

    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="commanded_incidents",
    )
    communications_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    scribe = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    responders = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="responded_incidents"
    )
    preceding_change = models.ForeignKey(
        Change, on_delete=models.SET_NULL, null=True, blank=True, related_name="incidents"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    history = INCIDENT_HISTORY

    class Meta:
        ordering = ["-detected_at"]
        indexes = [
            models.Index(fields=["stage", "severity"]),
            # The lists' order (newest first, keyset on detected_at then id); its partial
            # twin serves "open" without walking ten years of closed incidents. The
            # trigram indexes of the text search are PostgreSQL-only: migration 0009.
            models.Index(fields=["-detected_at", "-id"], name="incident_newest_first"),
            models.Index(
                fields=["-detected_at", "-id"],
                name="incident_open_newest_first",
                condition=models.Q(closed_at__isnull=True),
            ),
            # The live list's version token (incidents.live.list_version): the latest
            # change, and the few private incidents (all that visibility can change),
            # with what the visibility rule reads of them, so that the lists' set of
            # hidden incidents (visibility.incidents_listed_to) is an index-only scan.
            models.Index(fields=["-updated_at"], name="incident_latest_change"),
            models.Index(
                fields=["id"],
                name="incident_private_people",
                include=["created_by", "commander"],
                condition=models.Q(private=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(started_at__lte=models.F("detected_at")),
                name="incident_started_before_detected",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True)
                | Q(stage=Stage.RETROSPECT)
                | ~Q(outcome=Outcome.RESOLVED),
                name="incident_resolved_only_in_retrospect",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True, outcome="")
                | (Q(closed_at__isnull=False) & ~Q(outcome="")),
                name="incident_outcome_set_when_closed",
            ),
            models.CheckConstraint(
                condition=Q(outcome=Outcome.DUPLICATE, duplicate_of__isnull=False)
                | (~Q(outcome=Outcome.DUPLICATE) & Q(duplicate_of__isnull=True)),
                name="incident_duplicate_of_only_for_duplicates",
            ),
            models.CheckConstraint(
                condition=~Q(duplicate_of=models.F("pk")), name="incident_not_duplicate_of_itself"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def closed_unresolved(self) -> bool:
        """Closed as a false alarm, a duplicate or declined (not in the metrics)."""
        return self.closed_at is not None and self.outcome != Outcome.RESOLVED


# The timeline's history, kept by name: ``incidents.timeline.timeline_record`` writes
# each event's first row itself, without the manager simple-history builds for it.
TIMELINE_HISTORY = HistoricalRecords(excluded_fields=["data"])


class TimelineEvent(models.Model):
    """Append-only log of what happened to an incident, with actor and source.

    Nothing is deleted: a note can be edited or struck through (``note_edit``,
    ``note_strike``); the history keeps every earlier text with who and when."""

    class Kind(models.TextChoices):
        DECLARED = "declared", "Declared"
        NOTE = "note", "Note"
        STAGE_MOVED = "stage_moved", "Stage moved"
        STAGE_SKIPPED = "stage_skipped", "Stages skipped"
        REOPENED = "reopened", "Reopened"
        CLOSED = "closed", "Closed"
        DECISION = "decision", "Decision"
        ROLE_ASSIGNED = "role_assigned", "Role assigned"
        FIELDS_CHANGED = "fields_changed", "Fields changed"
        SEVERITY_CHANGED = "severity_changed", "Severity changed"
        STATUS_UPDATE = "status_update", "Status update"
        STAGE_TIME_CORRECTED = "stage_time_corrected", "Stage time corrected"
        DUPLICATE_LINKED = "duplicate_linked", "Duplicate linked"
        SLACK_CHANNEL_OPENED = "slack_channel_opened", "Slack channel opened"
        DELIVERY_REPLAYED = "delivery_replayed", "Delivery replayed"
        DELIVERY_REPLAY_REFUSED = "delivery_replay_refused", "Delivery replay refused"
        TRIGGER_MARKED = "trigger_marked", "Marked as trigger"
        TRIGGER_UNMARKED = "trigger_unmarked", "Trigger unmarked"
        SLACK_MESSAGE = "slack_message", "Slack message"

    class Source(models.TextChoices):
        WEB = "web", "Web"
        API = "api", "API"
        SLACK = "slack", "Slack"
        ALERT = "alert", "Alert"
        SYSTEM = "system", "System"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.WEB)
    text = models.TextField(max_length=TEXT_MAX, blank=True, validators=[multi_line])
    data = models.JSONField(default=dict, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    struck_at = models.DateTimeField(null=True, blank=True)
    struck_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    struck_reason = models.CharField(
        max_length=SHORT_TEXT_MAX, blank=True, validators=[single_line]
    )

    history = TIMELINE_HISTORY

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            # The order of the timeline, ties by id: the incident page reads its latest
            # events (and "Show older" the ones before a cursor) from it, scanned
            # backwards with a limit, however long the incident.
            models.Index(fields=["incident", "occurred_at", "id"], name="timeline_incident_order"),
            # The stepper's corrected stages: a handful of rows among thousands of notes.
            models.Index(fields=["incident", "kind"], name="timeline_incident_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.occurred_at:%Y-%m-%d %H:%M}"


class Decision(TimeStampedModel):
    """A judge-stage decision with the information it was made on (seed 001)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="decisions")
    options = models.JSONField(help_text="The options considered, as a list of strings.")
    chosen = models.CharField(max_length=SHORT_TEXT_MAX, validators=[single_line])
    rationale = models.TextField(max_length=TEXT_MAX, validators=[multi_line])
    information = models.TextField(
        max_length=TEXT_MAX,
        blank=True,
        help_text="What was known when deciding.",
        validators=[multi_line],
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    decided_at = models.DateTimeField()
    supersedes = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="superseded_by",
        help_text="The earlier decision this one replaces (kept, shown as superseded).",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["decided_at", "id"]

    def __str__(self) -> str:
        return f"Decision on #{self.incident_id}: {self.chosen}"

    @property
    def chosen_index(self) -> int | None:
        return self.options.index(self.chosen) if self.chosen in self.options else None


class RoleAssignment(models.Model):
    """Who held an incident role when: the hand-off history."""

    class Role(models.TextChoices):
        COMMANDER = "commander", "Incident commander"
        COMMUNICATIONS_LEAD = "communications_lead", "Communications lead"
        SCRIBE = "scribe", "Scribe"
        RESPONDER = "responder", "Responder"

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="role_assignments"
    )
    role = models.CharField(max_length=32, choices=Role.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "role", "user"],
                condition=Q(ended_at__isnull=True),
                name="role_assignment_one_open_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.user} on #{self.incident_id}"


# Alert intake (sources, their payload log, alert groups): its own module, imported here
# so Django registers its models with this app.
from incidents.intake.models import AlertGroup, AlertPayload, AlertSource  # noqa: E402, F401
