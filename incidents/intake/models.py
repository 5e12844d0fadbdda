"""Alert intake's data: the sources, the log of what each sent and the alert groups
with their incidents (imported by ``incidents.models``, which registers them)."""

from django.conf import settings
from django.db import models

from common.models import TimeStampedModel
from common.validators import multi_line, single_line

SOURCE_NAME_MAX = 64
MATCHERS_MAX = 4_000
DEFAULT_IGNORE = "alertname=Watchdog\nalertname=InfoInhibitor"
DEFAULT_ATTACH_ONLY = "severity=~info|none"
DEFAULT_SERVICE_LABELS = "service,app,job"


def default_severity_map() -> dict:
    return dict(settings.KEEL_ALERT_SEVERITY_MAP)


class AlertSource(TimeStampedModel):
    """One configured sender of alerts: its kind, its hashed key and its rules.

    ``user`` is who the alerts act as on the timeline (a service user, a responder);
    a default source (one per kind, ``is_default``) has none: it serves the API
    tokens minted before sources existed, and acts as the token's user."""

    class Kind(models.TextChoices):
        ALERTMANAGER = "alertmanager", "Alertmanager"
        GRAFANA = "grafana", "Grafana Alerting"
        WEBHOOK = "webhook", "Generic webhook"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=SOURCE_NAME_MAX, validators=[single_line])
    is_default = models.BooleanField(default=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="alert_sources",
    )
    key_prefix = models.CharField(max_length=16, blank=True)
    key_hash = models.CharField(max_length=64, blank=True)
    key_rotated_at = models.DateTimeField(null=True, blank=True)
    severity_label = models.CharField(max_length=100, default="severity", validators=[single_line])
    severity_map = models.JSONField(default=default_severity_map, blank=True)
    service_labels = models.CharField(
        max_length=200, default=DEFAULT_SERVICE_LABELS, blank=True, validators=[single_line]
    )
    service_map = models.JSONField(default=dict, blank=True)
    ignore_matchers = models.TextField(
        max_length=MATCHERS_MAX, default=DEFAULT_IGNORE, blank=True, validators=[multi_line]
    )
    attach_only_matchers = models.TextField(
        max_length=MATCHERS_MAX, default=DEFAULT_ATTACH_ONLY, blank=True, validators=[multi_line]
    )
    correlation_window_minutes = models.PositiveIntegerField(default=60)
    resolve_hold_seconds = models.PositiveIntegerField(default=300)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "name"], name="alert_source_kind_name_unique"),
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(is_default=True),
                name="alert_source_one_default_per_kind",
            ),
            models.UniqueConstraint(
                fields=["key_hash"],
                condition=~models.Q(key_hash=""),
                name="alert_source_key_hash_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name}"

    @property
    def label(self) -> str:
        """How the timeline names it: "Alertmanager prod-eu"."""
        return str(self)


class AlertPayload(models.Model):
    """One notification a source sent and what Keel did with it (the last
    ``KEEL_ALERT_LOG_KEEP`` per source are kept; the body is cut at
    ``KEEL_ALERT_LOG_BODY_BYTES``)."""

    source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="payloads")
    received_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=32, validators=[single_line])
    incident_ids = models.JSONField(default=list, blank=True)
    body_bytes = models.PositiveIntegerField(default=0)
    alerts_received = models.PositiveIntegerField(default=0)
    alerts_dropped = models.PositiveIntegerField(
        default=0, help_text="Alerts beyond the body cap, or the sender's truncatedAlerts."
    )
    alerts_malformed = models.PositiveIntegerField(default=0)
    alerts_ignored = models.PositiveIntegerField(default=0)
    detail = models.TextField(max_length=2_000, blank=True, validators=[multi_line])
    body = models.TextField(max_length=65_536, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["source", "-id"], name="alert_payload_source_recent")]

    def __str__(self) -> str:
        return f"{self.source} {self.received_at:%Y-%m-%d %H:%M:%S} {self.outcome}"


class AlertGroup(models.Model):
    """An alert group — one (source, sender instance, ``groupKey``) — and its incident.

    ``key_hash`` identifies the group (the three parts can be longer than an index
    allows). When the incident is closed, the next firing notification opens a new
    incident and the row points at it. ``resolved_since`` is when every alert of the
    group last went resolved (null while any fires): the incident moves to recover
    only after its groups stayed resolved for the source's hold time."""

    source = models.ForeignKey(
        AlertSource,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="groups",
    )
    external_url = models.CharField(max_length=2000, blank=True, validators=[single_line])
    group_key = models.CharField(max_length=1000, validators=[single_line])
    key_hash = models.CharField(max_length=64, unique=True)
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="alert_groups"
    )
    fingerprints = models.JSONField(default=list, help_text="Alerts seen firing in this group.")
    last_status = models.CharField(max_length=16, validators=[single_line])
    last_received_at = models.DateTimeField()
    resolved_since = models.DateTimeField(null=True, blank=True)
    flaps = models.PositiveIntegerField(
        default=0, help_text="Re-fires within the hold time (not moved, not announced)."
    )

    def __str__(self) -> str:
        return f"{self.group_key} → #{self.incident_id}"
