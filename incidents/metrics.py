"""Incident figures for /metrics, read from the database at scrape time (five
queries whatever the number of incidents), and the alert intake counter."""

from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum

from common import metrics
from incidents import lifecycle
from incidents.lifecycle import Outcome, Stage
from incidents.models import Incident, Severity, TimelineEvent

# Seconds: 1 min, 5, 15, 30 min, 1 h, 2, 4, 8 h, 1 day, 3 days.
STAGE_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200)

INTEGRATIONS = ("alertmanager", "grafana", "webhook")
ALERT_OUTCOMES = (
    "declared",
    "attached",
    "noted",
    "resolving",
    "flapping",
    "reopened",
    "recovered",
    "unchanged",
    "ignored",
)
# 400/413/415: the payload; 401/403: the token; 429: throttled; 5xx: Keel's own error.
ALERT_REFUSALS = ("refused", "forbidden", "throttled", "error")

ALERT_NOTIFICATIONS = metrics.counter(
    "keel_alert_notifications",
    "Alert notifications received by integration and outcome: what Keel did with each "
    "(declared, noted, reopened, recovered, unchanged, ignored) or why it turned one away "
    "(refused: the payload was malformed or failed validation; forbidden: no token, a "
    "wrong one, or its user may not open incidents; throttled; error: Keel failed).",
    ("integration", "outcome"),
)
for _integration in INTEGRATIONS:
    for _outcome in (*ALERT_OUTCOMES, *ALERT_REFUSALS):
        ALERT_NOTIFICATIONS.labels(_integration, _outcome)  # present at 0 from the start


def alert_outcome(response) -> str:
    """The outcome label of one answer to an alert notification."""
    status = response.status_code
    if status < 300:
        action = (getattr(response, "data", None) or {}).get("action", "")
        return action if action in ALERT_OUTCOMES else "unchanged"
    if status in (401, 403):
        return "forbidden"
    if status == 429:
        return "throttled"
    if status >= 500:
        return "error"
    return "refused"


def alert_notification_counted(*, integration: str, outcome: str) -> None:
    ALERT_NOTIFICATIONS.labels(integration, outcome).inc()


def _duration(start: str, end: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


def _stage_spans() -> dict[str, tuple[str, str]]:
    """Stage → (from, to) fields: detect measures impact start to detection (time to
    detect); every later stage measures detection to reaching it (DESIGN's table)."""
    spans = {Stage.DETECT.value: ("started_at", "detected_at")}
    for stage, (field, _) in lifecycle.STAGE_FIELDS.items():
        if stage != Stage.DETECT:
            spans[str(stage)] = ("detected_at", field)
    return spans


def stage_duration_histograms() -> dict[str, tuple[list, float]]:
    """One aggregate query: per stage, how many measured incidents reached it within
    each bucket, and the sum of their durations."""
    spans = _stage_spans()
    measured = Incident.objects.filter(Q(closed_at__isnull=True) | Q(outcome=Outcome.RESOLVED))
    annotations = {f"d_{stage}": _duration(*span) for stage, span in spans.items()}
    aggregates = {}
    for stage in spans:
        column = f"d_{stage}"
        reached = Q(**{f"{column}__isnull": False})
        for bucket in STAGE_BUCKETS:
            aggregates[f"{stage}_le_{bucket}"] = Count(
                "pk", filter=reached & Q(**{f"{column}__lte": timedelta(seconds=bucket)})
            )
        aggregates[f"{stage}_count"] = Count("pk", filter=reached)
        aggregates[f"{stage}_sum"] = Sum(column)
    row = measured.annotate(**annotations).aggregate(**aggregates)
    series = {}
    for stage in spans:
        buckets = [(float(b), row[f"{stage}_le_{b}"]) for b in STAGE_BUCKETS]
        buckets.append(("+Inf", row[f"{stage}_count"]))
        total = row[f"{stage}_sum"]
        # A negative span (a clock-skewed import) counts as 0, as in lifecycle.durations.
        series[stage] = (buckets, max(total.total_seconds(), 0.0) if total else 0.0)
    return series


def collect() -> list:
    severities = list(Severity.objects.order_by("rank").values_list("code", flat=True))
    open_counts = {
        (row["severity__code"], row["stage"]): row["n"]
        for row in Incident.objects.filter(closed_at__isnull=True)
        .values("severity__code", "stage")
        .annotate(n=Count("id"))
    }
    closed_counts = {
        row["outcome"]: row["n"]
        for row in Incident.objects.filter(closed_at__isnull=False)
        .values("outcome")
        .annotate(n=Count("id"))
    }
    declared_counts = {
        (row["incident__severity__code"], row["source"]): row["n"]
        for row in TimelineEvent.objects.filter(kind=TimelineEvent.Kind.DECLARED)
        .values("incident__severity__code", "source")
        .annotate(n=Count("id"))
    }
    sources = [*TimelineEvent.Source.values]
    return [
        metrics.gauge(
            "keel_open_incidents",
            "Open incidents by severity and stage (every pair, zero included).",
            [
                ({"severity": code, "stage": stage}, open_counts.get((code, stage), 0))
                for code in severities
                for stage in Stage.values
            ],
            ("severity", "stage"),
        ),
        metrics.gauge(
            "keel_closed_incidents",
            "Closed incidents by outcome.",
            [({"outcome": o}, closed_counts.get(o, 0)) for o in Outcome.values],
            ("outcome",),
        ),
        metrics.counter_family(
            "keel_incidents_declared",
            "Incidents declared, by severity (today's) and source (web, api, slack, alert, "
            "system).",
            [
                ({"severity": code, "source": source}, declared_counts.get((code, source), 0))
                for code in severities
                for source in sources
            ],
            ("severity", "source"),
        ),
        metrics.histogram_family(
            "keel_incident_stage_duration_seconds",
            "Seconds to reach each stage: detect from impact start to detection (time to "
            "detect), every later stage from detection. Open and resolved incidents only.",
            "stage",
            stage_duration_histograms(),
        ),
    ]
