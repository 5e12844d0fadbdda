"""Statuspage-compatible JSON documents (Atlassian Statuspage public API v2).

Field names and value sets follow ``/api/v2/*.json`` of a Statuspage page, so
existing widgets and clients work. Built from the statuspage models only.
"""

from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone

from statuspage import selectors
from statuspage.models import Component, ComponentGroup, ScheduledMaintenance
from statuspage.page_settings import page_settings_current


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def page_url() -> str:
    return f"{settings.KEEL_PUBLIC_URL}/status/"


def page(updated_at: datetime) -> dict:
    settings_row = page_settings_current()
    return {
        "id": settings.STATUSPAGE_PAGE_ID,
        "name": settings_row.name,
        "url": page_url(),
        "time_zone": "Etc/UTC" if settings_row.time_zone == "UTC" else settings_row.time_zone,
        "updated_at": iso(updated_at),
    }


def component(item: Component) -> dict:
    return {
        "id": item.public_id,
        "name": item.name,
        "status": item.status,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "position": item.position,
        "description": item.description or None,
        "showcase": item.showcase,
        "start_date": item.start_date.isoformat() if item.start_date else None,
        "group_id": item.group.public_id if item.group_id else None,
        "page_id": settings.STATUSPAGE_PAGE_ID,
        "group": False,
        "only_show_if_degraded": item.only_show_if_degraded,
    }


def group(item: ComponentGroup, children: list[Component]) -> dict:
    """Statuspage lists a group as a component with ``group: true`` and its
    children's ids; its status is the worst child's."""
    return {
        "id": item.public_id,
        "name": item.name,
        "status": selectors.worst_status([c.status for c in children]),
        "created_at": iso(item.created_at),
        "updated_at": iso(max([item.updated_at, *[c.updated_at for c in children]])),
        "position": item.position,
        "description": item.description or None,
        "showcase": False,
        "start_date": None,
        "group_id": None,
        "page_id": settings.STATUSPAGE_PAGE_ID,
        "group": True,
        "only_show_if_degraded": False,
        "components": [c.public_id for c in children],
    }


def components_list(components: list[Component]) -> list[dict]:
    rows = []
    groups: dict[int, tuple[ComponentGroup, list[Component]]] = {}
    for item in components:
        rows.append(component(item))
        if item.group_id:
            groups.setdefault(item.group_id, (item.group, []))[1].append(item)
    rows += [group(g, children) for g, children in groups.values()]
    return rows


def _update(item, parent_id: str) -> dict:
    return {
        "id": item.public_id,
        "status": item.status,
        "body": item.body,
        "incident_id": parent_id,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "display_at": iso(item.display_at),
        "affected_components": item.affected_components or None,
        # Incident updates always go out; a maintenance update may have been kept quiet.
        "deliver_notifications": getattr(item, "deliver_notifications", True),
        "custom_tweet": None,
        "tweet_id": None,
    }


def incident(item) -> dict:
    return {
        "id": item.public_id,
        "name": item.name,
        "status": item.status,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "monitoring_at": iso(item.monitoring_at),
        "resolved_at": iso(item.resolved_at),
        "impact": item.impact,
        "shortlink": f"{settings.KEEL_PUBLIC_URL}/status/incidents/{item.public_id}/",
        "started_at": iso(item.started_at),
        "page_id": settings.STATUSPAGE_PAGE_ID,
        "incident_updates": [_update(u, item.public_id) for u in item.updates.all()],
        "components": [component(c) for c in item.components.all()],
    }


def maintenance(item: ScheduledMaintenance) -> dict:
    return {
        "id": item.public_id,
        "name": item.name,
        "status": item.status,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "monitoring_at": None,
        "resolved_at": iso(item.completed_at),
        "impact": item.impact,
        "shortlink": f"{settings.KEEL_PUBLIC_URL}/status/maintenances/{item.public_id}/",
        "started_at": iso(item.started_at or item.scheduled_for),
        "page_id": settings.STATUSPAGE_PAGE_ID,
        "incident_updates": [_update(u, item.public_id) for u in item.updates.all()],
        "components": [component(c) for c in item.components.all()],
        "scheduled_for": iso(item.scheduled_for),
        "scheduled_until": iso(item.scheduled_until),
    }


def all_documents(*, now: datetime | None = None) -> dict[str, dict]:
    """Every ``/api/v2/`` document by its path under ``api/v2/``. A fixed number
    of queries, whatever the size of the page."""
    now = now or timezone.now()
    components = list(selectors.components_all())
    incidents = list(selectors.incidents_recent(50))
    unresolved = list(selectors.incidents_unresolved())
    maintenances = list(selectors.maintenances_with_updates().order_by("-scheduled_for")[:50])
    active = [m for m in maintenances if m.status in ("in_progress", "verifying")]
    upcoming = sorted(
        (m for m in maintenances if m.status == "scheduled"), key=lambda m: m.scheduled_for
    )
    updated_at = selectors.last_updated_at(components, incidents, maintenances)
    indicator = selectors.page_indicator(components, unresolved, active)
    # Statuspage's ``meta.generated_at`` (its webhook envelope has it; every document
    # here has it too): when this snapshot was rendered, however old its contents.
    head = {"meta": {"generated_at": iso(now)}, "page": page(updated_at)}
    status = {"indicator": indicator, "description": selectors.INDICATOR_DESCRIPTIONS[indicator]}
    component_rows = components_list(components)
    return {
        "summary.json": {
            **head,
            "components": component_rows,
            "incidents": [incident(i) for i in unresolved],
            "scheduled_maintenances": [maintenance(m) for m in active + upcoming],
            "status": status,
        },
        "status.json": {**head, "status": status},
        "components.json": {**head, "components": component_rows},
        "incidents.json": {**head, "incidents": [incident(i) for i in incidents]},
        "incidents/unresolved.json": {
            **head,
            "incidents": [incident(i) for i in unresolved],
        },
        "scheduled-maintenances.json": {
            **head,
            "scheduled_maintenances": [maintenance(m) for m in maintenances],
        },
        "scheduled-maintenances/upcoming.json": {
            **head,
            "scheduled_maintenances": [maintenance(m) for m in upcoming],
        },
        "scheduled-maintenances/active.json": {
            **head,
            "scheduled_maintenances": [maintenance(m) for m in active],
        },
    }
