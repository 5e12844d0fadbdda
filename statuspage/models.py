"""The public status page: components, public incidents, scheduled maintenance.

Nothing here is written by hand from an internal incident: public incidents are
created only by publishing (a status update addressed to the "public" audience,
applied by the ``statuspage`` channel adapter). Every text field is what the
public reads; internal fields stay on ``incidents.Incident``.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from common.models import TimeStampedModel
from common.validators import multi_line, single_line
from incidents.models import Incident, Service
from notifications.models import PublicImpact, PublicStatus

NAME_MAX = 200
DESCRIPTION_MAX = 1_000
BODY_MAX = 4_000
PUBLIC_ID_LENGTH = 12
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_public_id() -> str:
    """A 12-character lowercase id like Statuspage's (``k0bs4c8qwh2y``)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(PUBLIC_ID_LENGTH))


class ComponentStatus(models.TextChoices):
    OPERATIONAL = "operational", "Operational"
    DEGRADED_PERFORMANCE = "degraded_performance", "Degraded performance"
    PARTIAL_OUTAGE = "partial_outage", "Partial outage"
    MAJOR_OUTAGE = "major_outage", "Major outage"
    UNDER_MAINTENANCE = "under_maintenance", "Under maintenance"


# Worst wins: the order a group (or the page) uses to pick its displayed status.
STATUS_RANK = {
    ComponentStatus.OPERATIONAL: 0,
    ComponentStatus.UNDER_MAINTENANCE: 1,
    ComponentStatus.DEGRADED_PERFORMANCE: 2,
    ComponentStatus.PARTIAL_OUTAGE: 3,
    ComponentStatus.MAJOR_OUTAGE: 4,
}


IMPACT_RANK = {
    PublicImpact.NONE: 0,
    PublicImpact.MAINTENANCE: 0,
    PublicImpact.MINOR: 1,
    PublicImpact.MAJOR: 2,
    PublicImpact.CRITICAL: 3,
}


class MaintenanceStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    VERIFYING = "verifying", "Verifying"
    COMPLETED = "completed", "Completed"
    # Keel's own: called off before it ended (Statuspage deletes such a maintenance).
    CANCELLED = "cancelled", "Cancelled"


# What a maintenance may set its components to while it is in progress.
MAINTENANCE_COMPONENT_STATUSES = [
    ComponentStatus.UNDER_MAINTENANCE,
    ComponentStatus.DEGRADED_PERFORMANCE,
    ComponentStatus.PARTIAL_OUTAGE,
    ComponentStatus.MAJOR_OUTAGE,
]
REMINDER_MAX_MINUTES = 7 * 24 * 60


class ComponentGroup(TimeStampedModel):
    public_id = models.CharField(
        max_length=PUBLIC_ID_LENGTH, unique=True, default=new_public_id, editable=False
    )
    name = models.CharField(max_length=NAME_MAX, validators=[single_line])
    description = models.CharField(max_length=DESCRIPTION_MAX, blank=True, validators=[single_line])
    position = models.PositiveIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Component(TimeStampedModel):
    public_id = models.CharField(
        max_length=PUBLIC_ID_LENGTH, unique=True, default=new_public_id, editable=False
    )
    slug = models.SlugField(max_length=100, unique=True, help_text="Used in status updates.")
    name = models.CharField(max_length=NAME_MAX, validators=[single_line])
    description = models.CharField(max_length=DESCRIPTION_MAX, blank=True, validators=[single_line])
    group = models.ForeignKey(
        ComponentGroup,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="components",
    )
    position = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=32,
        choices=ComponentStatus.choices,
        default=ComponentStatus.OPERATIONAL,
        help_text="Displayed status: the override if set, else the worst effect of the "
        "unresolved public incidents and in-progress maintenances (never set by hand).",
    )
    override_status = models.CharField(
        max_length=32,
        choices=ComponentStatus.choices,
        blank=True,
        help_text="Set by hand: shown instead of what incidents and maintenances say, "
        "until cleared. Empty: follow them.",
    )
    override_reason = models.CharField(max_length=NAME_MAX, blank=True)
    showcase = models.BooleanField(default=True, help_text="Show the uptime bars on the page.")
    only_show_if_degraded = models.BooleanField(default=False)
    start_date = models.DateField(
        null=True, blank=True, help_text="Uptime is not computed before this day."
    )
    services = models.ManyToManyField(
        Service,
        blank=True,
        related_name="public_components",
        help_text="Internal services this component stands for (never shown publicly).",
    )

    history = HistoricalRecords(m2m_fields=[services])

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class PublicIncident(TimeStampedModel):
    """The customer-facing face of one internal incident.

    An internal incident has at most one unresolved public incident; after it is
    resolved, a later public update either reopens it or starts a new one (the
    responder chooses: ``notifications.models.PublicResolvedAction``).
    """

    public_id = models.CharField(
        max_length=PUBLIC_ID_LENGTH, unique=True, default=new_public_id, editable=False
    )
    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="public_incidents"
    )
    name = models.CharField(max_length=NAME_MAX, validators=[single_line])
    status = models.CharField(
        max_length=16, choices=PublicStatus.choices, default=PublicStatus.INVESTIGATING
    )
    impact = models.CharField(
        max_length=16, choices=PublicImpact.choices, default=PublicImpact.NONE
    )
    components = models.ManyToManyField(Component, blank=True, related_name="incidents")
    started_at = models.DateTimeField()
    monitoring_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True, db_index=True)

    history = HistoricalRecords(m2m_fields=[components])

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident"],
                condition=Q(resolved_at__isnull=True),
                name="one_unresolved_public_incident_per_incident",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_resolved(self) -> bool:
        return self.status in (PublicStatus.RESOLVED, PublicStatus.POSTMORTEM)


class PublicIncidentComponent(TimeStampedModel):
    """One public incident's own effect on one component (the latest status it set).

    A component shows the worst effect of its unresolved public incidents and
    in-progress maintenances, so resolving one incident never hides another's.
    """

    public_incident = models.ForeignKey(
        PublicIncident, on_delete=models.CASCADE, related_name="effects"
    )
    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="effects")
    status = models.CharField(max_length=32, choices=ComponentStatus.choices)

    history = HistoricalRecords()

    class Meta:
        ordering = ["public_incident", "component"]
        constraints = [
            models.UniqueConstraint(
                fields=["public_incident", "component"], name="one_effect_per_incident_component"
            )
        ]

    def __str__(self) -> str:
        return f"{self.public_incident}: {self.component} {self.status}"


class PublicIncidentUpdate(models.Model):
    """One published update. Append-only; ``source_update`` makes publishing idempotent."""

    public_id = models.CharField(
        max_length=PUBLIC_ID_LENGTH, unique=True, default=new_public_id, editable=False
    )
    public_incident = models.ForeignKey(
        PublicIncident, on_delete=models.CASCADE, related_name="updates"
    )
    source_update = models.OneToOneField(
        "notifications.StatusUpdate",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="public_update",
    )
    status = models.CharField(max_length=16, choices=PublicStatus.choices)
    body = models.TextField(max_length=BODY_MAX, validators=[multi_line])
    affected_components = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"code": public id, "name", "old_status", "new_status"}]',
    )
    display_at = models.DateTimeField()
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-display_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_status_display()} on {self.public_incident}"


class ScheduledMaintenance(TimeStampedModel):
    """A planned window of work on some components, announced on the status page.

    Scheduled → in progress (⇄ verifying) → completed, or cancelled before it ends.
    Written only by ``statuspage.maintenance`` (the web pages and the beat call it);
    every write has its history row and, for customers, a MaintenanceUpdate.
    """

    public_id = models.CharField(
        max_length=PUBLIC_ID_LENGTH, unique=True, default=new_public_id, editable=False
    )
    name = models.CharField(max_length=NAME_MAX, validators=[single_line])
    status = models.CharField(
        max_length=16, choices=MaintenanceStatus.choices, default=MaintenanceStatus.SCHEDULED
    )
    impact = models.CharField(
        max_length=16, choices=PublicImpact.choices, default=PublicImpact.MAINTENANCE
    )
    components = models.ManyToManyField(Component, blank=True, related_name="maintenances")
    component_status = models.CharField(
        max_length=32,
        choices=[(s.value, s.label) for s in MAINTENANCE_COMPONENT_STATUSES],
        default=ComponentStatus.UNDER_MAINTENANCE,
        help_text="What its components show while it is in progress (unless something "
        "worse is going on).",
    )
    scheduled_for = models.DateTimeField(db_index=True)
    scheduled_until = models.DateTimeField()
    auto_start = models.BooleanField(
        default=True, help_text="The beat starts it at the scheduled start."
    )
    auto_complete = models.BooleanField(
        default=True, help_text="The beat completes it at the scheduled end."
    )
    notify_on_start = models.BooleanField(
        default=True, help_text="Tell subscribers when it starts."
    )
    notify_on_complete = models.BooleanField(
        default=True, help_text="Tell subscribers when it is completed."
    )
    remind_minutes_before = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Remind subscribers this many minutes before the start; empty: no reminder.",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords(m2m_fields=[components])

    class Meta:
        ordering = ["-scheduled_for", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(scheduled_until__gt=models.F("scheduled_for")),
                name="maintenance_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(remind_minutes_before__isnull=True)
                | Q(remind_minutes_before__gte=1, remind_minutes_before__lte=REMINDER_MAX_MINUTES),
                name="maintenance_reminder_within_a_week",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_over(self) -> bool:
        return self.status in (MaintenanceStatus.COMPLETED, MaintenanceStatus.CANCELLED)

    @property
    def is_active(self) -> bool:
        return self.status in (MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING)


class MaintenanceUpdate(models.Model):
    """One customer-facing message of a maintenance. Append-only."""

    public_id = models.CharField(
        max_length=PUBLIC_ID_LENGTH, unique=True, default=new_public_id, editable=False
    )
    maintenance = models.ForeignKey(
        ScheduledMaintenance, on_delete=models.CASCADE, related_name="updates"
    )
    status = models.CharField(max_length=16, choices=MaintenanceStatus.choices)
    body = models.TextField(max_length=BODY_MAX, validators=[multi_line])
    affected_components = models.JSONField(default=list, blank=True)
    deliver_notifications = models.BooleanField(
        default=True, help_text="Whether subscribers were sent this update."
    )
    # Internal (never published): who wrote it; empty for the beat.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    display_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-display_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_status_display()} on {self.maintenance}"


class ComponentStatusChange(models.Model):
    """Append-only log of component statuses: the source of the uptime bars."""

    component = models.ForeignKey(
        Component, on_delete=models.CASCADE, related_name="status_changes"
    )
    status = models.CharField(max_length=32, choices=ComponentStatus.choices)
    previous_status = models.CharField(max_length=32, choices=ComponentStatus.choices, blank=True)
    changed_at = models.DateTimeField()
    public_incident = models.ForeignKey(
        PublicIncident, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    maintenance = models.ForeignKey(
        ScheduledMaintenance, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["component", "changed_at"])]

    def __str__(self) -> str:
        return f"{self.component} → {self.status} at {self.changed_at:%Y-%m-%d %H:%M}"


class SupportBrief(TimeStampedModel):
    """What CS tells customers about one incident: the wording and a workaround.

    Internal (the CS brief at /cs/ is behind login); nothing here is published.
    """

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, related_name="support_brief"
    )
    customer_wording = models.TextField(
        max_length=2_000,
        blank=True,
        help_text="What CS may say. Empty: the latest public update is used.",
        validators=[multi_line],
    )
    workaround = models.TextField(max_length=2_000, blank=True, validators=[multi_line])
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"CS brief for #{self.incident_id}"


# Models of this app kept in their own modules, imported here so Django registers them.
from statuspage.page_settings import PageSettings  # noqa: E402, F401
from statuspage.subscriber_models import Subscriber, SubscriberNotification  # noqa: E402, F401
