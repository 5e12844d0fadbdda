"""Reads of the status page: the derived statuses (the 90-day uptime is ``uptime``).

Everything here reads only the statuspage models, which hold nothing but what
was deliberately published. Internal incidents are never joined.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch
from django.utils import timezone

from notifications.models import PublicStatus
from statuspage.models import (
    STATUS_RANK,
    Component,
    ComponentStatus,
    MaintenanceStatus,
    MaintenanceUpdate,
    PublicIncident,
    PublicIncidentComponent,
    PublicIncidentUpdate,
    ScheduledMaintenance,
)

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
