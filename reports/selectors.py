"""Reads for the reports: the facts of every incident in the period, in a fixed
number of queries whatever the number of incidents (one per table: incidents,
their first decisions, services, action items, first deliveries, updates, audiences).

Every figure is then computed in Python (``reports.figures``), so PostgreSQL and
SQLite give the same answers: no database-specific percentile. Times are read as
numbers, seconds since the Unix epoch (``common.epoch.EpochSeconds``: parsing
~80,000 timestamps into ``datetime`` objects was half the page's time over 10,000
incidents); the figures only subtract and compare them. Few columns need a Python
converter per row (on SQLite the booleans and the money still do): the month of
detection (local time) comes from bisecting the months' starts
(``common.epoch.month_labeller``), failure patterns are read as JSON text and parsed
once per distinct text.
"""

import json
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from operator import itemgetter

from django.db.models import F, Min, QuerySet, TextField
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from common.epoch import EpochSeconds, month_labeller
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
    """Every ``*_at`` is seconds since the Unix epoch (a float), or None. The fields
    up to ``published_at`` are the incidents query's columns, in its order."""

    pk: int
    title: str
    severity: str
    severity_rank: int
    update_interval_minutes: int
    started_at: float
    detected_at: float
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
    published_at: float | None
    first_decided_at: float | None = None
    month: str = ""  # of detection, local time ("2026-10")
    services: list[str] = field(default_factory=list)
    first_delivery: dict[int, float] = field(default_factory=dict)
    updates: list[tuple[float, float | None]] = field(default_factory=list)
    action_items: list[ItemFacts] = field(default_factory=list)


@dataclass
class ReportFacts:
    incidents: list[IncidentFacts]
    audiences: list[tuple[int, str]]


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


def _patterns_reader():
    """Failure patterns are read as the column's JSON text and parsed once per
    distinct text (a few dozen combinations over thousands of incidents)."""
    parsed: dict[str | None, list[str]] = {}

    def read(text: str | None) -> list[str]:
        found = parsed.get(text)
        if found is None:
            value = json.loads(text) if text else []
            found = parsed[text] = [str(p) for p in value] if isinstance(value, list) else []
        return found

    return read


def facts_for(*, base: QuerySet[Incident], filters: dict) -> ReportFacts:
    """Every fact the report's figures need, in seven queries."""
    incidents = report_incidents(base=base, filters=filters)
    rows = (
        incidents.annotate(
            severity_code=F("severity__code"),
            severity_rank=F("severity__rank"),
            interval=F("severity__update_interval_minutes"),
            started=EpochSeconds("started_at"),
            detected=EpochSeconds("detected_at"),
            judged=EpochSeconds("judged_at"),
            recovered=EpochSeconds("recovered_at"),
            closed=EpochSeconds("closed_at"),
            patterns=Cast("failure_patterns", TextField()),
            published=EpochSeconds("postmortem__published_at"),
        )
        .order_by("detected_at", "pk")
        .values_list(
            "pk",
            "title",
            "severity_code",
            "severity_rank",
            "interval",
            "started",
            "detected",
            "judged",
            "recovered",
            "closed",
            "outcome",
            "outcome_reason",
            "duplicate_of_id",
            "detection_source",
            "detected_before_customers",
            "category",
            "patterns",
            "sla_minutes_breached",
            "estimated_loss",
            "published",
        )
    )
    pattern = filters.get("failure_pattern")
    read_patterns = _patterns_reader()
    by_pk: dict[int, IncidentFacts] = {}
    for row in rows:
        facts = IncidentFacts(*row)
        facts.failure_patterns = patterns = read_patterns(facts.failure_patterns)
        if pattern and pattern not in patterns:
            continue
        by_pk[facts.pk] = facts
    month_of = month_labeller(
        [facts.detected_at for facts in by_pk.values()], timezone.get_current_timezone()
    )
    for facts in by_pk.values():
        facts.month = month_of(facts.detected_at)
    pks = incidents.values("pk")
    first_decisions = (
        Decision.objects.filter(incident__in=pks)
        .values("incident_id")
        .annotate(first=EpochSeconds(Min("decided_at")))
        .values_list("incident_id", "first")
    )
    for incident_id, first in first_decisions:
        if (facts := by_pk.get(incident_id)) is not None:
            facts.first_decided_at = first
    services = (
        Incident.services.through.objects.filter(incident_id__in=pks)
        .values_list("incident_id", "service__name")
        .order_by("service__name")
    )
    for incident_id, service in services:
        if (facts := by_pk.get(incident_id)) is not None:
            facts.services.append(service)
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
        if (facts := by_pk.get(incident_id)) is not None:
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
    updates = notification_selectors.update_times(incidents=pks)
    for incident_id, group in groupby(updates, key=itemgetter(0)):
        if (facts := by_pk.get(incident_id)) is not None:
            facts.updates = [row[1:] for row in group]
    return ReportFacts(
        incidents=list(by_pk.values()), audiences=notification_selectors.report_audiences()
    )
