"""Reads of the status page: the derived statuses and the 90-day uptime.

Everything here reads only the statuspage models, which hold nothing but what
was deliberately published. Internal incidents are never joined.

Uptime formula: ``UPTIME_FORMULA`` below (shown on the page and in the README).
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from django.db.models import OuterRef, Prefetch, Q, Subquery
from django.utils import timezone

from notifications.models import PublicStatus
from statuspage.models import (
    STATUS_RANK,
    Component,
    ComponentStatus,
    ComponentStatusChange,
    MaintenanceStatus,
    MaintenanceUpdate,
    PublicIncident,
    PublicIncidentComponent,
    PublicIncidentUpdate,
    ScheduledMaintenance,
)

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
UNRESOLVED = [PublicStatus.INVESTIGATING, PublicStatus.IDENTIFIED, PublicStatus.MONITORING]

INDICATOR_DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major Service Outage",
    "maintenance": "Service Under Maintenance",
}


def worst_status(statuses) -> str:
    return max(statuses, key=lambda s: STATUS_RANK[s], default=ComponentStatus.OPERATIONAL)


# ---- what each component shows: the worst of its effects --------------------

MAINTENANCE_ACTIVE = [MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING]


@dataclass(frozen=True)
class Effect:
    """One reason a component shows a status: an unresolved public incident's own
    effect, an in-progress maintenance, or a manual override."""

    status: str
    kind: str  # "incident", "maintenance" or "override"
    source: str  # the public incident's or maintenance's name, or the override reason
    source_id: int | None = None

    def describe(self) -> str:
        label = ComponentStatus(self.status).label.lower()
        if self.kind == "override":
            return f"set by hand to {label}" + (f" ({self.source})" if self.source else "")
        return f"{label} by {self.kind} “{self.source}”"


def component_effects(component_ids) -> dict[int, list[Effect]]:
    """Per component id: the effects of unresolved public incidents and in-progress
    maintenances (two queries). Overrides are on the component itself."""
    effects: dict[int, list[Effect]] = {pk: [] for pk in component_ids}
    rows = PublicIncidentComponent.objects.filter(
        component_id__in=list(effects), public_incident__resolved_at__isnull=True
    ).values_list("component_id", "status", "public_incident__name", "public_incident_id")
    for component_id, status, name, public_id in rows:
        effects[component_id].append(Effect(status, "incident", name, public_id))
    maintenances = ScheduledMaintenance.components.through.objects.filter(
        component_id__in=list(effects), scheduledmaintenance__status__in=MAINTENANCE_ACTIVE
    ).values_list(
        "component_id",
        "scheduledmaintenance__component_status",
        "scheduledmaintenance__name",
        "scheduledmaintenance_id",
    )
    for component_id, status, name, maintenance_id in maintenances:
        effects[component_id].append(Effect(status, "maintenance", name, maintenance_id))
    return effects


def status_from_effects(effects: list[Effect], *, override: str = "") -> str:
    """The override if one is set, else the worst effect; operational without any."""
    if override:
        return override
    return worst_status(effect.status for effect in effects)


@dataclass(frozen=True)
class ComponentAfter:
    """What a component shows now and will show once an update is applied."""

    component: Component
    now: str
    after: str
    because: list[str]
    override: str  # the override it will have ("" = follows incidents and maintenances)

    def as_dict(self) -> dict:
        return {
            "slug": self.component.slug,
            "id": self.component.public_id,
            "name": self.component.name,
            "now": self.now,
            "now_label": ComponentStatus(self.now).label,
            "after": self.after,
            "after_label": ComponentStatus(self.after).label,
            "because": self.because,
            "override": self.override,
        }


def components_after(
    *,
    public_incident_id: int | None,
    public_name: str,
    resolving: bool,
    requested: dict,
    reopening: bool = False,
) -> list[ComponentAfter]:
    """Simulate an update of one public incident on the components it touches: the
    ones it names (``{slug: status}``) and, when it resolves, every component the
    incident affects. Resolving drops the incident's own effects; a status named in
    a resolving update is the responder's explicit choice, kept as an override when
    it differs from what the others leave. Reopening starts from no effect: only
    the components it names count again. Writes nothing."""
    touched = {c.pk: c for c in Component.objects.filter(slug__in=list(requested))}
    if resolving and public_incident_id:
        for effect in PublicIncidentComponent.objects.filter(
            public_incident_id=public_incident_id
        ).select_related("component"):
            touched.setdefault(effect.component_id, effect.component)
    effects = component_effects(list(touched))
    rows = []
    for component in sorted(touched.values(), key=lambda c: (c.position, c.name)):
        others = [
            e
            for e in effects[component.pk]
            if not (e.kind == "incident" and e.source_id == public_incident_id)
        ]
        override = component.override_status
        named = requested.get(component.slug)
        if resolving:
            if named:
                override = "" if named == status_from_effects(others) else named
            mine = []
        else:
            own = named or next(
                (
                    e.status
                    for e in effects[component.pk]
                    if e.kind == "incident" and e.source_id == public_incident_id and not reopening
                ),
                None,
            )
            mine = [Effect(own, "incident", public_name, public_incident_id)] if own else []
        after_effects = others + mine
        because = [e.describe() for e in after_effects]
        if override:
            because.insert(0, Effect(override, "override", component.override_reason).describe())
        rows.append(
            ComponentAfter(
                component=component,
                now=component.status,
                after=status_from_effects(after_effects, override=override),
                because=because,
                override=override,
            )
        )
    return rows


def components_all():
    return Component.objects.select_related("group").order_by(
        "group__position", "group__name", "position", "name"
    )


def incidents_with_updates():
    return PublicIncident.objects.prefetch_related(
        Prefetch("updates", queryset=PublicIncidentUpdate.objects.order_by("-display_at", "-id")),
        Prefetch("components", queryset=Component.objects.order_by("position", "name")),
    )


def incidents_unresolved():
    return incidents_with_updates().filter(status__in=UNRESOLVED)


def incidents_recent(limit: int = 50):
    return incidents_with_updates().order_by("-started_at", "-id")[:limit]


def maintenances_with_updates():
    return ScheduledMaintenance.objects.prefetch_related(
        Prefetch("updates", queryset=MaintenanceUpdate.objects.order_by("-display_at", "-id")),
        Prefetch("components", queryset=Component.objects.order_by("position", "name")),
    )


def maintenances_active():
    return maintenances_with_updates().filter(
        status__in=[MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING]
    )


def maintenances_by_state(*, limit: int = 50) -> dict[str, list[ScheduledMaintenance]]:
    """The maintenance list page: in progress and upcoming (soonest first), then the
    latest completed and cancelled ones (newest first). Four queries per state."""
    base = maintenances_with_updates()
    return {
        "active": list(base.filter(status__in=MAINTENANCE_ACTIVE).order_by("scheduled_until")),
        "upcoming": list(
            base.filter(status=MaintenanceStatus.SCHEDULED).order_by("scheduled_for", "pk")
        ),
        "completed": list(
            base.filter(status=MaintenanceStatus.COMPLETED).order_by("-completed_at")[:limit]
        ),
        "cancelled": list(
            base.filter(status=MaintenanceStatus.CANCELLED).order_by("-cancelled_at")[:limit]
        ),
    }


def maintenance_detail(pk: int) -> ScheduledMaintenance:
    return ScheduledMaintenance.objects.prefetch_related(
        Prefetch(
            "updates",
            queryset=MaintenanceUpdate.objects.select_related("created_by").order_by(
                "-display_at", "-id"
            ),
        ),
        Prefetch("components", queryset=Component.objects.order_by("position", "name")),
    ).get(pk=pk)


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    user: object
    reason: str
    changes: list[tuple[str, object, object]]


def maintenance_history(maintenance: ScheduledMaintenance) -> list[HistoryEntry]:
    """Who changed what and when (simple-history), newest first."""
    records = list(
        maintenance.history.select_related("history_user").order_by("history_date", "history_id")
    )
    names = dict(Component.objects.values_list("pk", "name"))
    labels = {f.name: f.verbose_name for f in ScheduledMaintenance._meta.get_fields() if f.concrete}

    def shown(field: str, value):
        if field == "components":  # simple-history's m2m rows → component names
            return ", ".join(sorted(names.get(row["component"], "?") for row in value or []))
        return value

    entries, previous = [], None
    for record in records:
        changes = []
        if previous is not None:
            delta = record.diff_against(previous, excluded_fields=["updated_at"])
            changes = [
                (labels.get(c.field, c.field), shown(c.field, c.old), shown(c.field, c.new))
                for c in delta.changes
            ]
        entries.append(
            HistoryEntry(
                at=record.history_date,
                user=record.history_user,
                reason=record.history_change_reason or "",
                changes=changes,
            )
        )
        previous = record
    return entries[::-1]


def page_indicator(components, incidents, active_maintenances) -> str:
    """Statuspage's rollup: the worst of unresolved incident impacts and component
    statuses; "maintenance" only when nothing worse is going on."""
    rank = {"none": 0, "minor": 1, "major": 2, "critical": 3}
    worst = 0
    for incident in incidents:
        worst = max(worst, rank.get(incident.impact, 0))
    by_status = {
        ComponentStatus.DEGRADED_PERFORMANCE: 1,
        ComponentStatus.PARTIAL_OUTAGE: 2,
        ComponentStatus.MAJOR_OUTAGE: 3,
    }
    for component in components:
        worst = max(worst, by_status.get(component.status, 0))
    if worst == 0 and (
        active_maintenances
        or any(c.status == ComponentStatus.UNDER_MAINTENANCE for c in components)
    ):
        return "maintenance"
    return {0: "none", 1: "minor", 2: "major", 3: "critical"}[worst]


def last_updated_at(components, incidents, maintenances) -> datetime:
    stamps = [c.updated_at for c in components]
    stamps += [i.updated_at for i in incidents]
    stamps += [m.updated_at for m in maintenances]
    return max(stamps, default=timezone.now())


# Uptime ------------------------------------------------------------------------


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
