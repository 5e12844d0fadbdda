"""The status page's 90-day uptime per component, from the append-only status log.

Uptime formula: ``UPTIME_FORMULA`` below (shown on the page and in the README).
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from statuspage.models import (
    Component,
    ComponentStatus,
    ComponentStatusChange,
    PublicIncident,
)
from statuspage.selectors import worst_status

UPTIME_DAYS = 90
UPTIME_FORMULA = (
    "A day's uptime is 1 - (seconds in major outage x 1 + seconds in partial outage x 0.3) "
    "/ seconds observed. Degraded performance and maintenance count as up (weight 0). "
    "A day is observed from the component's first recorded status (or its start date) "
    "to midnight in the page's time zone, or to now for today; days before that show no "
    "data. The bar's colour is the worst status the component had that day. Past days "
    "read only the append-only status log, so a closed day never changes. The 90-day "
    "figure weighs days by their observed seconds."
)
DOWNTIME_WEIGHT = {
    ComponentStatus.MAJOR_OUTAGE: 1.0,
    ComponentStatus.PARTIAL_OUTAGE: 0.3,
    ComponentStatus.DEGRADED_PERFORMANCE: 0.0,
    ComponentStatus.UNDER_MAINTENANCE: 0.0,
    ComponentStatus.OPERATIONAL: 0.0,
}


@dataclass
class UptimeDay:
    day: date
    uptime: float | None  # None: no data (before the component existed)
    worst: str = ComponentStatus.OPERATIONAL
    seconds: dict = field(default_factory=dict)
    incidents: list = field(default_factory=list)

    @property
    def percent(self) -> str:
        if self.uptime is None:
            return "no data"
        return "100%" if self.uptime >= 1 else f"{self.uptime * 100:.2f}%"

    @property
    def css(self) -> str:
        return "none" if self.uptime is None else self.worst


@dataclass
class ComponentUptime:
    component: Component
    days: list[UptimeDay]

    @property
    def uptime(self) -> float | None:
        observed = [d for d in self.days if d.uptime is not None]
        if not observed:
            return None
        total = sum(sum(d.seconds.values()) for d in observed)
        if not total:
            return None
        down = sum(DOWNTIME_WEIGHT[s] * secs for d in observed for s, secs in d.seconds.items())
        return 1 - down / total

    @property
    def percent(self) -> str:
        value = self.uptime
        return "no data" if value is None else f"{value * 100:.2f}%"


def uptime_combined(histories: list[ComponentUptime]) -> ComponentUptime:
    """A group's bar: per day, the children's seconds added up (so the formula is
    the children's observed-time-weighted mean), the worst colour, all incidents."""
    combined = []
    for days in zip(*(h.days for h in histories), strict=True):
        observed = [d for d in days if d.uptime is not None]
        if not observed:
            combined.append(UptimeDay(day=days[0].day, uptime=None))
            continue
        seconds: dict[str, float] = {}
        for d in observed:
            for status, secs in d.seconds.items():
                seconds[status] = seconds.get(status, 0.0) + secs
        total = sum(seconds.values())
        down = sum(DOWNTIME_WEIGHT[s] * secs for s, secs in seconds.items())
        incidents = {i["id"]: i for d in observed for i in d.incidents}
        combined.append(
            UptimeDay(
                day=days[0].day,
                uptime=1 - down / total if total else None,
                worst=worst_status(d.worst for d in observed),
                seconds=seconds,
                incidents=list(incidents.values()),
            )
        )
    return ComponentUptime(component=None, days=combined)


def _midnight(day: date, zone: tzinfo) -> datetime:
    # In UTC: a day with a daylight-saving change is then 23 or 25 hours long.
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def uptime_days(
    *, components, now: datetime | None = None, days: int = UPTIME_DAYS, zone: tzinfo = UTC
) -> dict[int, ComponentUptime]:
    """The last ``days`` days in ``zone`` (the page's time zone) per component (oldest
    first), from the status log.

    Three queries whatever the number of components: state at the window start,
    changes inside the window, and public incidents overlapping it.
    """
    now = now or timezone.now()
    today = now.astimezone(zone).date()
    first_day = today - timedelta(days=days - 1)
    start = _midnight(first_day, zone)
    components = list(components)
    ids = [c.pk for c in components]
    before = dict(
        Component.objects.filter(pk__in=ids)
        .annotate(
            at_start=Subquery(
                ComponentStatusChange.objects.filter(component=OuterRef("pk"), changed_at__lt=start)
                .order_by("-changed_at", "-id")
                .values("status")[:1]
            )
        )
        .values_list("pk", "at_start")
    )
    changes: dict[int, list] = {pk: [] for pk in ids}
    for component_id, status, changed_at in ComponentStatusChange.objects.filter(
        component_id__in=ids, changed_at__gte=start, changed_at__lte=now
    ).values_list("component_id", "status", "changed_at"):
        changes[component_id].append((changed_at, status))
    incidents_by_component: dict[int, list] = {pk: [] for pk in ids}
    overlapping = (
        PublicIncident.objects.filter(components__in=ids)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=start))
        .values_list("components", "public_id", "name", "started_at", "resolved_at")
    )
    for component_id, public_id, name, started_at, resolved_at in overlapping:
        incidents_by_component[component_id].append((public_id, name, started_at, resolved_at))

    result = {}
    for component in components:
        # Observation starts at the first logged status, or the start date if earlier.
        state = before.get(component.pk)
        log = sorted(changes[component.pk])
        observed_from = None
        if state is not None:
            observed_from = start
        elif log:
            observed_from = log[0][0]
        if component.start_date:
            declared = _midnight(component.start_date, zone)
            if observed_from is None or declared < observed_from:
                observed_from = max(declared, start)
                state = state or ComponentStatus.OPERATIONAL
        day_rows = []
        index = 0
        for offset in range(days):
            day = first_day + timedelta(days=offset)
            day_start = _midnight(day, zone)
            day_end = min(_midnight(day + timedelta(days=1), zone), now)
            if observed_from is None or observed_from >= day_end:
                # Consume changes before this day's end anyway to keep ``state`` right.
                while index < len(log) and log[index][0] < day_end:
                    state = log[index][1]
                    index += 1
                day_rows.append(UptimeDay(day=day, uptime=None))
                continue
            cursor = max(day_start, observed_from)
            seconds: dict[str, float] = {}
            while index < len(log) and log[index][0] < day_end:
                changed_at, new_status = log[index]
                if state is not None and changed_at > cursor:
                    seconds[state] = seconds.get(state, 0.0) + (changed_at - cursor).total_seconds()
                cursor = max(cursor, changed_at)
                state = new_status
                index += 1
            if state is not None and day_end > cursor:
                seconds[state] = seconds.get(state, 0.0) + (day_end - cursor).total_seconds()
            total = sum(seconds.values())
            down = sum(DOWNTIME_WEIGHT[s] * secs for s, secs in seconds.items())
            uptime = 1 - down / total if total else None
            day_incidents = [
                {"id": pid, "name": name}
                for pid, name, started_at, resolved_at in incidents_by_component[component.pk]
                if started_at < day_end and (resolved_at is None or resolved_at >= day_start)
            ]
            day_rows.append(
                UptimeDay(
                    day=day,
                    uptime=uptime,
                    worst=worst_status(s for s, secs in seconds.items() if secs > 0),
                    seconds=seconds,
                    incidents=day_incidents,
                )
            )
        result[component.pk] = ComponentUptime(component=component, days=day_rows)
    return result
