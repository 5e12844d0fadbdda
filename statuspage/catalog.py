"""Settings → Status page: the writes that shape the public page (components,
groups, their order, the services they stand for; the page's name, logo and time
zone). Each one writes its rows with a history row naming the admin and asks for
a new snapshot after commit (``services.snapshot_request``, the one mechanism
every status page write uses)."""

import zoneinfo

from django.db import transaction
from django.db.models import Max, Q
from django.utils.text import slugify

from common.exceptions import InvalidInput
from statuspage import services
from statuspage.models import Component, ComponentGroup, ComponentStatus, PublicIncident
from statuspage.page_settings import (
    LOGO_MAX_BYTES,
    PageSettings,
    page_settings_current,
)

UP, DOWN = "up", "down"


def _unique_component_slug(name: str) -> str:
    base = slugify(name)[:90] or "component"
    slug, n = base, 2
    while Component.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _save(row, actor, reason: str, **kwargs) -> None:
    row._history_user = actor
    row._change_reason = reason
    row.save(**kwargs)


@transaction.atomic
def component_create(
    *, actor, name: str, description: str = "", group=None, services_mapped=()
) -> Component:
    """A new component, last in its group, operational (its uptime log starts now)."""
    last = Component.objects.filter(group=group).aggregate(m=Max("position"))["m"]
    component = Component(
        name=name,
        slug=_unique_component_slug(name),
        description=description,
        group=group,
        position=0 if last is None else last + 1,
    )
    component.full_clean()
    _save(component, actor, "added in settings")
    component.services.set(services_mapped)
    services.component_set_status(
        component=component, status=ComponentStatus.OPERATIONAL, actor=actor
    )
    services.snapshot_request()
    return component


@transaction.atomic
def component_update(
    *, component: Component, actor, name: str, description: str, group, services_mapped
) -> Component:
    """Rename, describe, regroup (last in the new group) and remap a component."""
    if group != component.group:
        last = Component.objects.filter(group=group).aggregate(m=Max("position"))["m"]
        component.position = 0 if last is None else last + 1
    component.name, component.description, component.group = name, description, group
    component.full_clean(exclude=["slug"])
    _save(component, actor, "edited in settings")
    component.services.set(services_mapped)
    services.snapshot_request()
    return component


def _move(rows: list, row, direction: str, field: str, actor) -> bool:
    """Swap ``row`` with its neighbour in ``rows`` (renumbered 0..n first)."""
    if direction not in (UP, DOWN):
        raise InvalidInput("Move up or down.", field="direction")
    index = next(i for i, r in enumerate(rows) if r.pk == row.pk)
    other = index - 1 if direction == UP else index + 1
    if not 0 <= other < len(rows):
        return False
    rows[index], rows[other] = rows[other], rows[index]
    for position, item in enumerate(rows):
        if getattr(item, field) != position:
            setattr(item, field, position)
            _save(item, actor, f"moved {direction}" if item.pk == row.pk else "reordered")
    return True


@transaction.atomic
def component_move(*, component: Component, direction: str, actor) -> bool:
    """Move a component up or down among its group's components. False at an end."""
    siblings = list(
        Component.objects.select_for_update()
        .filter(group_id=component.group_id)
        .order_by("position", "name")
    )
    moved = _move(siblings, component, direction, "position", actor)
    if moved:
        services.snapshot_request()
    return moved


def component_remove_blockers(component: Component) -> list[str]:
    """What removing the component would break, in words; empty when it can go."""
    reasons = []
    incidents = (
        PublicIncident.objects.filter(Q(components=component) | Q(effects__component=component))
        .distinct()
        .count()
    )
    if incidents:
        reasons.append(f"{incidents} public incident(s) list it (their history pages show it)")
    if maintenances := component.maintenances.count():
        reasons.append(f"{maintenances} maintenance(s) list it")
    if subscribers := component.subscribers.filter(unsubscribed_at__isnull=True).count():
        reasons.append(f"{subscribers} subscriber(s) follow it")
    return reasons


@transaction.atomic
def component_remove(*, component: Component, actor) -> None:
    """Delete a component nobody references (its uptime log goes with it)."""
    if reasons := component_remove_blockers(component):
        raise InvalidInput(
            f"{component.name} cannot be removed: " + "; ".join(reasons) + ".", field="component"
        )
    component._history_user = actor
    component._change_reason = "removed in settings"
    component.delete()
    services.snapshot_request()


@transaction.atomic
def group_create(*, actor, name: str, description: str = "") -> ComponentGroup:
    last = ComponentGroup.objects.aggregate(m=Max("position"))["m"]
    group = ComponentGroup(
        name=name, description=description, position=0 if last is None else last + 1
    )
    group.full_clean()
    _save(group, actor, "added in settings")
    services.snapshot_request()
    return group


@transaction.atomic
def group_update(*, group: ComponentGroup, actor, name: str, description: str) -> ComponentGroup:
    group.name, group.description = name, description
    group.full_clean()
    _save(group, actor, "edited in settings")
    services.snapshot_request()
    return group


@transaction.atomic
def group_move(*, group: ComponentGroup, direction: str, actor) -> bool:
    groups = list(ComponentGroup.objects.select_for_update().order_by("position", "name"))
    moved = _move(groups, group, direction, "position", actor)
    if moved:
        services.snapshot_request()
    return moved


@transaction.atomic
def group_remove(*, group: ComponentGroup, actor) -> None:
    """Delete an empty group (a group with components would scatter them)."""
    if count := group.components.count():
        raise InvalidInput(
            f"{group.name} still holds {count} component(s): move or remove them first.",
            field="group",
        )
    group._history_user = actor
    group._change_reason = "removed in settings"
    group.delete()
    services.snapshot_request()


def logo_type_of(data: bytes) -> str:
    """``png``, ``jpeg`` or ``webp`` from the file's first bytes, else InvalidInput."""
    if len(data) > LOGO_MAX_BYTES:
        raise InvalidInput(
            f"The logo is {len(data) // 1024} KB; at most {LOGO_MAX_BYTES // 1024} KB.",
            field="logo",
        )
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    raise InvalidInput("The logo must be a PNG, JPEG or WebP image.", field="logo")


def time_zone_problem(name: str) -> str | None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"Unknown time zone {name!r}: use a name like Europe/Paris."
    return None


@transaction.atomic
def page_settings_update(
    *, actor, name: str, time_zone: str, logo: bytes | None = None, remove_logo: bool = False
) -> PageSettings:
    """Save the page's name and time zone; a new logo replaces the old one
    (``logo=None`` keeps it, ``remove_logo`` drops it)."""
    if problem := time_zone_problem(time_zone):
        raise InvalidInput(problem, field="time_zone")
    row = PageSettings.objects.select_for_update().order_by("pk").first()
    row = row or page_settings_current()
    row.name, row.time_zone = name, time_zone
    if logo is not None:
        row.logo, row.logo_type = logo, logo_type_of(logo)
    elif remove_logo:
        row.logo, row.logo_type = b"", ""
    row.full_clean()
    _save(row, actor, "edited in settings")
    services.snapshot_request()
    return row
