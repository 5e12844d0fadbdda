"""Reads for the reports: the facts of every incident in the period, in a fixed
number of queries whatever the number of incidents (one per table: incidents,
their services, their action items, first deliveries, updates, audiences).

Every figure is then computed in Python (``reports.figures``), so PostgreSQL and
SQLite give the same answers: no database-specific percentile. Times are read as
numbers, seconds since the Unix epoch (``common.epoch.EpochSeconds``: parsing
~80,000 timestamps into ``datetime`` objects was half the page's time over 10,000
incidents), and the month of detection as the database's year and month in the
current time zone; the figures only subtract and compare them.
"""

from dataclasses import dataclass, field
from datetime import date

from django.db.models import F, OuterRef, QuerySet, Subquery
from django.db.models.functions import ExtractMonth, ExtractYear, TruncDate

from common.epoch import EpochSeconds
from incidents.models import Decision, Incident
from incidents.visibility import incidents_visible_to
from notifications import selectors as notification_selectors
from postmortems.models import ActionItem


@dataclass(slots=True)
class ItemFacts:
    pk: int
    incident_id: int
    title: str
    owner: str
    team: str
    due_date: date | None
    status: str
    completed_at: float | None  # epoch seconds
    completed_on: date | None  # local date

    @property
    def finished(self) -> bool:
        return self.status in (ActionItem.Status.DONE, ActionItem.Status.WONT_DO)


@dataclass(slots=True)
class IncidentFacts:
    """Every ``*_at`` is seconds since the Unix epoch (a float), or None."""

    pk: int
    title: str
    severity: str
    severity_rank: int
    update_interval_minutes: int
    private: bool
    started_at: float
    detected_at: float
    first_decided_at: float | None
    judged_at: float | None
    recovered_at: float | None
    closed_at: float | None
    outcome: str
    outcome_reason: str
    duplicate_of_id: int | None
    detection_source: str
    detected_before_customers: bool | None
    category: str
    failure_patterns: list[str]
    sla_minutes_breached: int | None
    estimated_loss: object
    reopened_count: int
    published_at: float | None
    month: str = ""  # of detection, local time ("2026-10")
    services: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    first_delivery: dict[int, float] = field(default_factory=dict)
    updates: list[tuple[float, float | None]] = field(default_factory=list)
    action_items: list[ItemFacts] = field(default_factory=list)


@dataclass
class ReportFacts:
    incidents: list[IncidentFacts]
    audiences: list[tuple[int, str]]


# Positions in the incidents query's rows (the order of IncidentFacts' fields, then
# the year and month of detection).
_PATTERNS = 18
_YEAR = 23
_MONTH = 24


def report_incidents(*, base: QuerySet[Incident], filters: dict) -> QuerySet[Incident]:
    """The incidents of ``base`` that the report's database filters select (period
    by detection, severity, service, team, category). Failure patterns are a JSON
    list, filtered in Python (``facts_for``) so SQLite answers the same."""
    queryset = base
    if start := filters.get("start"):
        queryset = queryset.filter(detected_at__gte=start)
    if end := filters.get("end"):
        queryset = queryset.filter(detected_at__lt=end)
    if severity := filters.get("severity"):
        queryset = queryset.filter(severity__code=severity)
    if service := filters.get("service"):
        queryset = queryset.filter(
            pk__in=Incident.services.through.objects.filter(service__slug=service).values(
                "incident_id"
            )
        )
    if team := filters.get("team"):
        queryset = queryset.filter(
            pk__in=Incident.services.through.objects.filter(service__owner_team__slug=team).values(
                "incident_id"
            )
        )
    if category := filters.get("category"):
        queryset = queryset.filter(category=category)
    return queryset


def report_facts(*, user, filters: dict) -> ReportFacts:
    """Every fact the report's figures need about the incidents ``user`` may see."""
    return facts_for(base=incidents_visible_to(user), filters=filters)


def public_facts(*, filters: dict) -> ReportFacts:
    """The same about public incidents only: for what leaves Keel (the weekly digest
    goes to a shared audience, which may never hear of a private incident)."""
    return facts_for(base=Incident.objects.filter(private=False), filters=filters)


def facts_for(*, base: QuerySet[Incident], filters: dict) -> ReportFacts:
    """Every fact the report's figures need, in six queries."""
    incidents = report_incidents(base=base, filters=filters)
    first_decision = Decision.objects.filter(incident=OuterRef("pk")).order_by("decided_at")
    rows = (
        incidents.annotate(
            severity_code=F("severity__code"),
            severity_rank=F("severity__rank"),
            interval=F("severity__update_interval_minutes"),
            started=EpochSeconds("started_at"),
            detected=EpochSeconds("detected_at"),
            first_decided=EpochSeconds(Subquery(first_decision.values("decided_at")[:1])),
            judged=EpochSeconds("judged_at"),
            recovered=EpochSeconds("recovered_at"),
            closed=EpochSeconds("closed_at"),
            published=EpochSeconds("postmortem__published_at"),
            detected_year=ExtractYear("detected_at"),
            detected_month=ExtractMonth("detected_at"),
        )
        .order_by("detected_at", "pk")
        .values_list(
            "pk",
            "title",
            "severity_code",
            "severity_rank",
            "interval",
            "private",
            "started",
            "detected",
            "first_decided",
            "judged",
            "recovered",
            "closed",
            "outcome",
            "outcome_reason",
            "duplicate_of_id",
            "detection_source",
            "detected_before_customers",
            "category",
            "failure_patterns",
            "sla_minutes_breached",
            "estimated_loss",
            "reopened_count",
            "published",
            "detected_year",
            "detected_month",
        )
    )
    pattern = filters.get("failure_pattern")
    by_pk: dict[int, IncidentFacts] = {}
    for row in rows:
        patterns = row[_PATTERNS] if isinstance(row[_PATTERNS], list) else []
        if pattern and pattern not in patterns:
            continue
        facts = IncidentFacts(*row[:_YEAR], month=f"{row[_YEAR]:04d}-{row[_MONTH]:02d}")
        facts.failure_patterns = [str(p) for p in patterns]
        by_pk[row[0]] = facts
    pks = incidents.values("pk")
    services = (
        Incident.services.through.objects.filter(incident_id__in=pks)
        .values_list("incident_id", "service__name", "service__owner_team__name")
        .order_by("service__name")
    )
    for incident_id, service, team in services:
        facts = by_pk.get(incident_id)
        if facts is None:
            continue
        facts.services.append(service)
        if team and team not in facts.teams:
            facts.teams.append(team)
    items = (
        ActionItem.objects.filter(postmortem__incident__in=pks)
        .order_by("due_date", "pk")
        .values_list(
            "pk",
            "postmortem__incident_id",
            "title",
            "owner__username",
            "team__name",
            "due_date",
            "status",
            EpochSeconds("completed_at"),
            TruncDate("completed_at"),
        )
    )
    for pk, incident_id, title, owner, team, due, status, completed, on in items:
        facts = by_pk.get(incident_id)
        if facts is not None:
            facts.action_items.append(
                ItemFacts(
                    pk, incident_id, title, owner or "", team or "", due, status, completed, on
                )
            )
    for incident_id, audience_id, first in notification_selectors.first_deliveries_by_audience(
        incidents=pks
    ):
        if (facts := by_pk.get(incident_id)) is not None:
            facts.first_delivery[audience_id] = first
    for incident_id, created_at, next_update_at in notification_selectors.update_times(
        incidents=pks
    ):
        if (facts := by_pk.get(incident_id)) is not None:
            facts.updates.append((created_at, next_update_at))
    return ReportFacts(
        incidents=list(by_pk.values()), audiences=notification_selectors.report_audiences()
    )
