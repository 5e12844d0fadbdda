"""The report's figures, computed in Python from ``reports.selectors.ReportFacts``
(pure: no database). Each table carries its definition; docs/reports.md lists them.

Incidents closed as a false alarm, a duplicate or declined are not measured
(``incidents.lifecycle.counts_in_metrics``); they are listed in their own table.
A stage that was skipped has no time, so the figure that ends there leaves the
incident out (the "measured" column says how many counted). A reopened incident
is measured to its last recovery: reopening clears the recovery time.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from operator import is_not, itemgetter

from django.utils import timezone

from incidents import lifecycle
from incidents.models import Category, DetectionSource, FailurePattern
from reports import follow_up, stats
from reports.selectors import IncidentFacts, ReportFacts
from reports.tables import Column, Table

NO_SERVICE = "(no service)"
NO_TEAM = "(no team)"
NO_OWNER = "(no owner)"
UNCATEGORISED = "(uncategorised)"


def _minutes(start: float | None, end: float | None) -> float | None:
    """Minutes from ``start`` to ``end`` (epoch seconds), to the hundredth."""
    if start is None or end is None:
        return None
    return round(max(end - start, 0.0) / 60, 2)


_known = partial(is_not, None)


def _earliest(*moments):
    known = [m for m in moments if m is not None]
    return min(known) if known else None


def _actions_done_at(incident: IncidentFacts) -> float | None:
    items = incident.action_items
    if not items or not all(item.finished for item in items):
        return None
    done = [item.completed_at for item in items if item.completed_at is not None]
    return max(done) if done else None


@dataclass(frozen=True)
class Metric:
    key: str
    title: str
    definition: str
    measure: Callable[[IncidentFacts], float | None]


def metrics(audiences: list[tuple[int, str]]) -> list[Metric]:
    """Every duration the report measures, in lifecycle order."""
    found = [
        Metric(
            "time_to_detect",
            "Time to detect",
            lifecycle.DURATION_DEFINITIONS["time_to_detect"],
            lambda i: _minutes(i.started_at, i.detected_at),
        )
    ]
    for audience_id, name in audiences:
        found.append(
            Metric(
                f"time_to_propagate_{audience_id}",
                f"Time to propagate — {name}",
                f"From detection to the first update delivered to {name} "
                "(sent by a channel; personal notices and reminders do not count).",
                lambda i, a=audience_id: _minutes(i.detected_at, i.first_delivery.get(a)),
            )
        )
    found += [
        Metric(
            "time_to_decide",
            "Time to decide",
            lifecycle.DURATION_DEFINITIONS["time_to_decide"],
            lambda i: _minutes(i.detected_at, _earliest(i.first_decided_at, i.judged_at)),
        ),
        Metric(
            "time_to_recover",
            "Time to recover",
            lifecycle.DURATION_DEFINITIONS["time_to_recover"]
            + " A reopened incident counts to its last recovery.",
            lambda i: _minutes(i.detected_at, i.recovered_at),
        ),
        Metric(
            "recovered_to_published",
            "Resolved → postmortem published",
            "From reaching Recover (service restored) to the postmortem's publication.",
            lambda i: _minutes(i.recovered_at, i.published_at),
        ),
        Metric(
            "published_to_actions_done",
            "Published → all action items done",
            "From the postmortem's publication to the last of its action items completed, "
            "once every item is done or won't do (incidents with an open item, or none, "
            "are not measured yet).",
            lambda i: _minutes(i.published_at, _actions_done_at(i)),
        ),
    ]
    return found


def group_members(incidents: list[IncidentFacts]) -> list[tuple[str, str, list[int]]]:
    """Every group of the duration tables, in table order (all, severity by rank,
    service, month), with the positions in ``incidents`` of its members (computed
    once for all the duration tables)."""
    if not incidents:
        return []
    by_severity: dict[str, list[int]] = defaultdict(list)
    by_service: dict[str, list[int]] = defaultdict(list)
    by_month: dict[str, list[int]] = defaultdict(list)
    ranks = {}
    for position, incident in enumerate(incidents):
        by_severity[incident.severity].append(position)
        ranks[incident.severity] = incident.severity_rank
        for service in incident.services or [NO_SERVICE]:
            by_service[service].append(position)
        by_month[incident.month].append(position)
    groups = [("All", "", list(range(len(incidents))))]
    groups += [
        ("Severity", name, by_severity[name])
        for name in sorted(by_severity, key=lambda name: (ranks[name], name))
    ]
    groups += [("Service", name, by_service[name]) for name in sorted(by_service)]
    groups += [("Month", name, by_month[name]) for name in sorted(by_month)]
    return groups


def duration_table(
    metric: Metric, incidents: list[IncidentFacts], groups: list[tuple[str, str, list[int]]]
) -> Table:
    """``groups``: ``group_members(incidents)``."""
    values = list(map(metric.measure, incidents))
    rows = []
    for dimension, name, positions in groups:
        # Gathered and filtered in C (itemgetter, filter): the tables touch every
        # incident once per group it belongs to.
        members = itemgetter(*positions)(values) if len(positions) > 1 else [values[positions[0]]]
        found = sorted(filter(_known, members))
        rows.append([dimension, name, stats.median(found), stats.p90(found), len(found)])
    return Table(
        key=metric.key,
        title=metric.title,
        definition=metric.definition + " Median and p90 (nearest rank) in minutes.",
        columns=[
            Column("Group"),
            Column("Value"),
            Column("Median", "minutes"),
            Column("p90", "minutes"),
            Column("Measured", "count"),
        ],
        rows=rows,
        chart_column=2,
        section="durations",
    )


def before_customers(incident: IncidentFacts) -> bool:
    if incident.detected_before_customers is not None:
        return incident.detected_before_customers
    return incident.detection_source != DetectionSource.CUSTOMER_REPORT


def detection_table(incidents: list[IncidentFacts]) -> Table:
    counts: dict[str, list[int]] = {}
    for incident in incidents:
        row = counts.setdefault(incident.detection_source, [0, 0])
        row[0] += 1
        row[1] += before_customers(incident)
    labels = dict(DetectionSource.choices)
    rows = []
    for source, _label in DetectionSource.choices:
        if source in counts:
            total, before = counts[source]
            rows.append([labels[source], total, before, round(100 * before / total, 1)])
    total = sum(c[0] for c in counts.values())
    before = sum(c[1] for c in counts.values())
    if total:
        rows.append(["All sources", total, before, round(100 * before / total, 1)])
    return Table(
        key="detected_before_customers",
        title="Detected before customers, by source",
        definition="Share of measured incidents detected before any customer noticed: the "
        "incident's “detected before customers” answer, or when it was not given, any "
        "source other than a customer report.",
        columns=[
            Column("Source"),
            Column("Incidents", "count"),
            Column("Before customers", "count"),
            Column("Share", "percent"),
        ],
        rows=rows,
        chart_column=3,
        section="detection",
    )


def _count_table(key, title, definition, label, names: Iterable[Iterable[str]], section) -> Table:
    """Incidents per name, most first: ``names`` holds each incident's names (an
    incident counts once for each of its names)."""
    counts = Counter(name for incident_names in names for name in incident_names)
    rows = [[name, n] for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return Table(
        key=key,
        title=title,
        definition=definition,
        columns=[Column(label), Column("Incidents", "count")],
        rows=rows,
        chart_column=1,
        section=section,
    )


def service_table(incidents: list[IncidentFacts]) -> Table:
    return _count_table(
        "incidents_by_service",
        "Incidents per service",
        "Measured incidents affecting each service (an incident on two services counts for both).",
        "Service",
        (incident.services or [NO_SERVICE] for incident in incidents),
        "counts",
    )


def category_table(incidents: list[IncidentFacts]) -> Table:
    labels = dict(Category.choices)
    return _count_table(
        "incidents_by_category",
        "Incidents per category",
        "Measured incidents by the seed's category tree.",
        "Category",
        ([labels.get(incident.category, UNCATEGORISED)] for incident in incidents),
        "counts",
    )


def pattern_table(incidents: list[IncidentFacts]) -> Table:
    labels = dict(FailurePattern.choices)
    return _count_table(
        "failure_patterns",
        "Failure patterns",
        "Measured incidents tagged with each failure pattern (an incident may have several).",
        "Pattern",
        ([labels.get(p, p) for p in set(incident.failure_patterns)] for incident in incidents),
        "patterns",
    )


def pattern_trend_table(incidents: list[IncidentFacts]) -> Table:
    labels = dict(FailurePattern.choices)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for incident in incidents:
        for pattern in set(incident.failure_patterns):
            counts[(incident.month, labels.get(pattern, pattern))] += 1
    rows = [[month, pattern, n] for (month, pattern), n in sorted(counts.items())]
    return Table(
        key="failure_pattern_trend",
        title="Failure patterns by month",
        definition="The same counts per month of detection (local time).",
        columns=[Column("Month"), Column("Pattern"), Column("Incidents", "count")],
        rows=rows,
        chart_column=2,
        section="patterns",
    )


def sla_table(incidents: list[IncidentFacts]) -> Table:
    months: dict[str, list] = {}
    for incident in incidents:
        row = months.setdefault(incident.month, [0, 0, 0])
        row[0] += 1
        row[1] += incident.sla_minutes_breached or 0
        row[2] += incident.estimated_loss or 0
    rows = [[month, n, sla, loss] for month, (n, sla, loss) in sorted(months.items())]
    return Table(
        key="sla_and_loss",
        title="SLA minutes and estimated loss by month",
        definition="Sums of the incidents' SLA minutes breached and estimated loss, by month "
        "of detection (an incident without a figure adds 0).",
        columns=[
            Column("Month"),
            Column("Incidents", "count"),
            Column("SLA minutes", "count"),
            Column("Estimated loss", "money"),
        ],
        rows=rows,
        chart_column=2,
        section="impact",
    )


def excluded_table(incidents: list[IncidentFacts]) -> Table:
    labels = dict(lifecycle.Outcome.choices)
    rows = [
        [
            incident.pk,
            incident.title,
            labels.get(incident.outcome, incident.outcome),
            incident.outcome_reason,
            f"#{incident.duplicate_of_id}" if incident.duplicate_of_id else "",
        ]
        for incident in incidents
    ]
    return Table(
        key="excluded",
        title="Excluded incidents",
        definition="Closed as a false alarm, a duplicate or declined: not in any figure above.",
        columns=[
            Column("#", "count"),
            Column("Title"),
            Column("Outcome"),
            Column("Reason"),
            Column("Duplicate of"),
        ],
        rows=rows,
        section="excluded",
    )


def _measured(incident: IncidentFacts) -> bool:
    return lifecycle.counts_in_metrics(incident)


@dataclass
class Report:
    measured: list[IncidentFacts]
    excluded: list[IncidentFacts]
    tables: list[Table]

    def table(self, key: str) -> Table:
        return next(table for table in self.tables if table.key == key)


def report_build(facts: ReportFacts, *, now: datetime | None = None) -> Report:
    now = now or timezone.now()
    today = timezone.localdate(now)
    now_s = now.timestamp()
    measured, excluded = [], []
    for incident in facts.incidents:
        (measured if _measured(incident) else excluded).append(incident)
    groups = group_members(measured)
    items = follow_up.item_states(measured, today=today)
    tables = [duration_table(metric, measured, groups) for metric in metrics(facts.audiences)]
    tables += [
        detection_table(measured),
        service_table(measured),
        category_table(measured),
        pattern_table(measured),
        pattern_trend_table(measured),
        sla_table(measured),
        follow_up.cadence_table(measured, now=now_s),
        follow_up.items_table(
            "action_items_by_team",
            "Action items by team",
            "Team",
            items,
            lambda item: item.team or NO_TEAM,
        ),
        follow_up.items_table(
            "action_items_by_owner",
            "Action items by owner",
            "Owner",
            items,
            lambda item: item.owner or NO_OWNER,
        ),
        excluded_table(excluded),
    ]
    return Report(measured=measured, excluded=excluded, tables=tables)


@dataclass(frozen=True)
class Headline:
    incidents: int
    median_time_to_detect: float | None
    median_time_to_recover: float | None
    before_customers_percent: float | None
    sla_minutes: int


def headline(incidents: list[IncidentFacts]) -> Headline:
    """The digest's headline figures for a set of measured incidents."""
    measured = [i for i in incidents if _measured(i)]
    detect = [v for i in measured if (v := _minutes(i.started_at, i.detected_at)) is not None]
    recover = [v for i in measured if (v := _minutes(i.detected_at, i.recovered_at)) is not None]
    before = sum(before_customers(i) for i in measured)
    return Headline(
        incidents=len(measured),
        median_time_to_detect=stats.median(detect),
        median_time_to_recover=stats.median(recover),
        before_customers_percent=round(100 * before / len(measured), 1) if measured else None,
        sla_minutes=sum(i.sla_minutes_breached or 0 for i in measured),
    )
