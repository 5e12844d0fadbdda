"""Postmortems: templates as data, structured sections, remediations, action items, reviews.

A template is an ordered list of sections; editing one writes a new version and
a postmortem keeps the version it was started from. Section content is JSON
shaped by its kind (``postmortems.sections`` validates it); remediation options
and action items are rows of their own because they carry invariants (exactly
one option chosen, with a reason) and are listed across incidents.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from common.models import TimeStampedModel
from common.validators import multi_line, single_line
from incidents.models import Incident, Team

NAME_MAX = 200
KEY_MAX = 50
HELP_MAX = 1_000
COMMENT_MAX = 5_000
OPTION_TEXT_MAX = 2_000
SEARCH_DOCUMENT_MAX = 500_000
PUBLIC_SUMMARY_MAX = 2_000
QUERY_MAX = 1_000
EVIDENCE_DAYS_MAX = 90


class SectionKind(models.TextChoices):
    MARKDOWN = "markdown", "Rich text (Markdown)"
    TIMELINE = "timeline", "Timeline"
    METRICS = "metrics", "Metrics"
    THRESHOLDS = "thresholds", "Thresholds"
    LOG_WINDOW = "log_window", "Error log window"
    FAILURE_POINTS = "failure_points", "Failure points"
    MIDDLEWARE = "middleware", "Middleware and connected applications"
    REMEDIATIONS = "remediations", "Remediation options"
    ROOT_CAUSE = "root_cause", "Root cause analysis"
    ACTION_ITEMS = "action_items", "Action items"
    CHECKLIST = "checklist", "Checklist"
    WENT_WELL = "went_well", "Went well / badly / lucky"
    RECURRENCE = "recurrence", "Recurrence (similar past incidents)"


class PostmortemTemplate(TimeStampedModel):
    """One version of a template. ``family`` ties the versions of one template together."""

    family = models.SlugField(max_length=KEY_MAX, help_text="Stable name shared by all versions.")
    name = models.CharField(max_length=NAME_MAX, validators=[single_line])
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="postmortem_templates"
    )
    version = models.PositiveIntegerField(default=1)
    is_current = models.BooleanField(default=True)
    is_default = models.BooleanField(
        default=False, help_text="Used when a postmortem is started without naming a template."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["family", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["family", "version"], name="pm_template_family_version"
            ),
            models.UniqueConstraint(
                fields=["family"], condition=Q(is_current=True), name="pm_template_one_current"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class TemplateSection(models.Model):
    template = models.ForeignKey(
        PostmortemTemplate, on_delete=models.CASCADE, related_name="sections"
    )
    position = models.PositiveSmallIntegerField()
    key = models.SlugField(max_length=KEY_MAX)
    title = models.CharField(max_length=NAME_MAX, validators=[single_line])
    kind = models.CharField(max_length=32, choices=SectionKind.choices)
    help_text = models.TextField(max_length=HELP_MAX, blank=True, validators=[multi_line])

    class Meta:
        ordering = ["template", "position"]
        constraints = [
            models.UniqueConstraint(fields=["template", "key"], name="pm_template_section_key"),
            models.UniqueConstraint(
                fields=["template", "position"], name="pm_template_section_position"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template}: {self.key}"


class Postmortem(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        PUBLISHED = "published", "Published"

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="postmortem")
    template = models.ForeignKey(
        PostmortemTemplate, on_delete=models.PROTECT, related_name="postmortems"
    )
    title = models.CharField(max_length=NAME_MAX, validators=[single_line])
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    version = models.PositiveIntegerField(
        default=1, help_text="Bumped by every save; a save naming an older one is a conflict."
    )
    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="postmortems_to_review"
    )
    public_summary = models.TextField(
        max_length=PUBLIC_SUMMARY_MAX, blank=True, validators=[multi_line]
    )
    search_document = models.TextField(
        max_length=SEARCH_DOCUMENT_MAX,
        blank=True,
        help_text="Plain text of every section, for search; rewritten on each save.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    last_saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_saved_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    retro_completed_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["search_document"])

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(published_at__isnull=True) | Q(status="published"),
                name="pm_published_at_only_when_published",
            )
        ]

    def __str__(self) -> str:
        return f"Postmortem of #{self.incident_id}: {self.title}"


class Section(models.Model):
    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="sections")
    position = models.PositiveSmallIntegerField()
    key = models.SlugField(max_length=KEY_MAX)
    title = models.CharField(max_length=NAME_MAX, validators=[single_line])
    kind = models.CharField(max_length=32, choices=SectionKind.choices)
    help_text = models.TextField(max_length=HELP_MAX, blank=True, validators=[multi_line])
    content = models.JSONField(default=dict, blank=True)
    generated = models.JSONField(
        default=dict, blank=True, help_text="What Keel pre-filled, kept after edits."
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    saved_version = models.PositiveIntegerField(
        default=1, help_text="The postmortem version this section was last saved in."
    )

    history = HistoricalRecords(excluded_fields=["generated"])

    class Meta:
        ordering = ["postmortem", "position"]
        constraints = [
            models.UniqueConstraint(fields=["postmortem", "key"], name="pm_section_key"),
        ]

    def __str__(self) -> str:
        return f"{self.postmortem_id}:{self.key}"


class RemediationOption(models.Model):
    """A way out that was weighed; exactly one is chosen, and why."""

    postmortem = models.ForeignKey(
        Postmortem, on_delete=models.CASCADE, related_name="remediation_options"
    )
    position = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(max_length=NAME_MAX, validators=[single_line])
    description = models.TextField(max_length=OPTION_TEXT_MAX, blank=True, validators=[multi_line])
    pros = models.TextField(max_length=OPTION_TEXT_MAX, blank=True, validators=[multi_line])
    cons = models.TextField(max_length=OPTION_TEXT_MAX, blank=True, validators=[multi_line])
    chosen = models.BooleanField(default=False)
    reason = models.TextField(max_length=OPTION_TEXT_MAX, blank=True, validators=[multi_line])
    decision = models.ForeignKey(
        "incidents.Decision", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["postmortem", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["postmortem"], condition=Q(chosen=True), name="pm_one_chosen_remediation"
            ),
            models.CheckConstraint(
                condition=Q(chosen=False) | ~Q(reason=""), name="pm_chosen_remediation_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class ActionItem(TimeStampedModel):
    class Term(models.TextChoices):
        SHORT = "short", "Short-term"
        LONG = "long", "Long-term"

    class Kind(models.TextChoices):
        PREVENT = "prevent", "Prevent"
        DETECT = "detect", "Detect"
        MITIGATE = "mitigate", "Mitigate"
        PROCESS = "process", "Process"

    class Priority(models.TextChoices):
        P1 = "P1", "P1 — urgent"
        P2 = "P2", "P2 — high"
        P3 = "P3", "P3 — normal"
        P4 = "P4", "P4 — low"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        WONT_DO = "wont_do", "Won't do"

    postmortem = models.ForeignKey(
        Postmortem, on_delete=models.CASCADE, related_name="action_items"
    )
    position = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(max_length=NAME_MAX, validators=[single_line])
    description = models.TextField(max_length=OPTION_TEXT_MAX, blank=True, validators=[multi_line])
    term = models.CharField(max_length=8, choices=Term.choices, default=Term.SHORT)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PREVENT)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="action_items",
    )
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="action_items"
    )
    due_date = models.DateField(null=True, blank=True, db_index=True)
    priority = models.CharField(max_length=2, choices=Priority.choices, default=Priority.P3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    tracker_url = models.URLField(max_length=500, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["postmortem", "position", "id"]
        indexes = [models.Index(fields=["status", "due_date"])]

    def __str__(self) -> str:
        return self.title

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.WONT_DO)

    @property
    def verifiable_by_metric(self) -> bool:
        """Prevent and detect items can be shown to work by a metric (evidence)."""
        return self.kind in (self.Kind.PREVENT, self.Kind.DETECT)


class ActionItemEvidence(models.Model):
    """The metric that shows a prevent or detect item works: a series (pasted, or the
    result of ``query`` against the admin-configured Prometheus-compatible URL) must stay
    on the good side of ``threshold`` for ``days`` days (``postmortems.evidence``)."""

    class Stay(models.TextChoices):
        BELOW = "below", "Stays below the threshold"
        ABOVE = "above", "Stays above the threshold"

    class Result(models.TextChoices):
        UNCHECKED = "unchecked", "Not checked yet"
        VERIFIED = "verified", "Verified"
        NOT_YET = "not_yet", "Not enough days of good data yet"
        BREACHED = "breached", "Crossed the threshold"
        UNAVAILABLE = "unavailable", "Metric source unavailable"

    action_item = models.OneToOneField(
        ActionItem, on_delete=models.CASCADE, related_name="evidence"
    )
    metric = models.CharField(max_length=NAME_MAX, validators=[single_line])
    query = models.CharField(
        max_length=QUERY_MAX,
        blank=True,
        validators=[single_line],
        help_text="PromQL run against KEEL_METRICS_QUERY_URL; empty: the pasted series.",
    )
    series = models.JSONField(default=list, blank=True, help_text="Pasted [[time, value], ...].")
    threshold = models.FloatField()
    stay = models.CharField(max_length=8, choices=Stay.choices, default=Stay.BELOW)
    days = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(1), MaxValueValidator(EVIDENCE_DAYS_MAX)]
    )
    result = models.CharField(max_length=16, choices=Result.choices, default=Result.UNCHECKED)
    result_detail = models.CharField(max_length=NAME_MAX * 2, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    history = HistoricalRecords(excluded_fields=["series"])

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(verified_at__isnull=True) | Q(result="verified"),
                name="pm_evidence_verified_at_only_when_verified",
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.stay} {self.threshold:g} for {self.days} d"


class ActionItemReminder(models.Model):
    """One reminder per item per day, whatever the number of beat runs or workers."""

    action_item = models.ForeignKey(ActionItem, on_delete=models.CASCADE, related_name="reminders")
    sent_on = models.DateField()
    overdue = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["action_item", "sent_on"], name="pm_reminder_once_a_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.action_item_id} on {self.sent_on}"


class Review(models.Model):
    class Verdict(models.TextChoices):
        APPROVE = "approve", "Approved"
        REQUEST_CHANGES = "request_changes", "Changes requested"

    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    comment = models.TextField(max_length=COMMENT_MAX, blank=True, validators=[multi_line])
    postmortem_version = models.PositiveIntegerField()
    content_hash = models.CharField(
        max_length=64,
        blank=True,
        help_text="SHA-256 of the content the reviewer saw (postmortems.writes.content_hash).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(
        null=True, blank=True, help_text="When a change to the content withdrew this approval."
    )
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    withdrawn_reason = models.CharField(max_length=NAME_MAX, blank=True, validators=[single_line])

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_verdict_display()} by {self.reviewer_id}"
