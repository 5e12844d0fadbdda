"""The one check of a public status update, run by the request and again by the worker.

Whatever the status page adapter would refuse, the form, the API, Slack and
postmortem publishing refuse first with the same function, so an accepted update
never dies quietly in a worker. It is registered as the status page channel's
check at start-up (``StatuspageConfig.ready``): ``notifications`` never imports
this app.

The rules, in the order they are checked:

1. A public update needs a public status (investigating, identified, monitoring,
   resolved) — field ``public_status``.
2. ``components`` maps components to statuses; at most ``MAX_COMPONENTS``. A
   component is named by its slug or its public id (and, from the web form and
   Slack, by its name as the status page shows it); a status by its value or its
   label (``degraded performance``). Anything else is refused listing the valid
   components / statuses — field ``components``.
3. The first public update of a public incident needs a public title — field
   ``public_title``.
4. A public incident cannot start as ``resolved`` (there is nothing public to
   resolve) — field ``public_status``.
5. When the incident's public incident is resolved, a non-resolved update must
   say what happens: ``public_resolved_action`` ``reopen`` (the same public
   incident page goes back to the new status) or ``new`` (a new public incident,
   which needs its own public title) — field ``public_resolved_action``. A
   ``resolved`` follow-up to a resolved public incident is an addendum (e.g. the
   postmortem summary) and may not change components.
6. ``impact`` is blank (the worst named component status decides, and the public
   incident's impact only rises) or an override: none, minor, major, critical —
   field ``public_impact``.

"The incident's public incident" is what the page will show when this update is
applied: the latest published one, then every earlier accepted update still on
its way to the page (so two quick updates are checked in the order they publish).
"""

from dataclasses import dataclass

from django.db.models import Q

from common.exceptions import Conflict, InvalidInput
from incidents.models import TITLE_MAX
from notifications.models import (
    IMPACT_OVERRIDES,
    UPDATE_PUBLIC_STATUSES,
    Delivery,
    Destination,
    PublicImpact,
    PublicResolvedAction,
    PublicStatus,
    StatusUpdate,
)
from statuspage.models import IMPACT_RANK, STATUS_RANK, Component, ComponentStatus, PublicIncident
from statuspage.selectors import components_after

MAX_COMPONENTS = 100
# Deliveries that will still reach the page (dead and skipped ones never will).
_ON_ITS_WAY = [Delivery.Status.PENDING, Delivery.Status.SENDING, Delivery.Status.FAILED]
_VALID_LISTED_MAX = 60


class UnknownComponents(InvalidInput):
    code = "unknown_components"


class PublicIncidentResolved(Conflict):
    code = "public_incident_resolved"


@dataclass(frozen=True)
class PublicState:
    """The public incident as the page will show it just before an update applies."""

    exists: bool = False
    resolved: bool = False
    name: str = ""
    public_incident: PublicIncident | None = None


@dataclass(frozen=True)
class PublicUpdatePlan:
    """What the update will do on the page: normalised components (slug → status)."""

    components: dict
    public_title: str
    resolved_action: str
    starts_new: bool  # a new PublicIncident is created (first one, or "new")
    reopens: bool
    state: PublicState
    impact: str = PublicImpact.NONE  # the impact the public incident will show
    impact_override: str = ""


def impact_for_statuses(statuses) -> str:
    """Statuspage's default impact: the worst component status (degraded → minor,
    partial outage → major, major outage → critical)."""
    worst = max((STATUS_RANK[s] for s in statuses), default=0)
    if worst >= STATUS_RANK[ComponentStatus.MAJOR_OUTAGE]:
        return PublicImpact.CRITICAL
    if worst >= STATUS_RANK[ComponentStatus.PARTIAL_OUTAGE]:
        return PublicImpact.MAJOR
    if worst >= STATUS_RANK[ComponentStatus.DEGRADED_PERFORMANCE]:
        return PublicImpact.MINOR
    return PublicImpact.NONE


def impact_after(*, current: str, statuses, resolving: bool, override: str = "") -> str:
    """The impact a public incident shows after an update: the override when one is
    chosen, else the impact of the named statuses if that is worse than ``current``."""
    if override:
        return override
    named = PublicImpact.NONE if resolving else impact_for_statuses(statuses)
    return named if IMPACT_RANK[named] > IMPACT_RANK.get(current, 0) else current


def _normalise_status(value) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().lower().replace("-", " ").replace("_", " ")
    text = " ".join(text.split())
    for choice in ComponentStatus:
        if text in (choice.value.replace("_", " "), choice.label.lower()):
            return choice.value
    return None


def _valid_components_text(all_components: list[Component]) -> str:
    listed = [f"{c.slug} ({c.name})" for c in all_components[:_VALID_LISTED_MAX]]
    more = len(all_components) - len(listed)
    if not listed:
        return "There are no status page components yet (Status page > Components)."
    tail = f" and {more} more" if more > 0 else ""
    return f"Valid components: {', '.join(listed)}{tail}."


def components_resolve(requested, *, by_name: bool = False) -> dict[str, str]:
    """``{"<slug | public id | name>": "<status | label>"}`` → ``{slug: status}``.

    Raises ``UnknownComponents`` / ``InvalidInput`` naming the field ``components``.
    """
    if requested in (None, ""):
        return {}
    if not isinstance(requested, dict):
        raise InvalidInput(
            "components must map components (slug or id) to statuses.", field="components"
        )
    if len(requested) > MAX_COMPONENTS:
        raise InvalidInput(f"At most {MAX_COMPONENTS} components.", field="components")
    all_components = list(Component.objects.select_related("group").order_by("slug"))
    by_slug = {c.slug: c for c in all_components}
    by_id = {c.public_id: c for c in all_components}
    by_label: dict[str, list[Component]] = {}
    if by_name:
        for component in all_components:
            by_label.setdefault(component.name.strip().lower(), []).append(component)
            if component.group:
                key = f"{component.group.name} / {component.name}".lower()
                by_label.setdefault(key, []).append(component)
    found: dict[str, Component] = {}
    unknown, ambiguous = [], []
    for key in requested:
        text = str(key).strip()
        component = by_slug.get(text) or by_id.get(text)
        if component is None and by_name:
            matches = by_label.get(" ".join(text.lower().split()), [])
            if len(matches) > 1:
                ambiguous.append(text)
                continue
            component = matches[0] if matches else None
        if component is None:
            unknown.append(text)
        else:
            found[key] = component
    if unknown or ambiguous:
        parts = []
        if unknown:
            parts.append(f"Unknown status page component(s): {', '.join(sorted(unknown))}.")
        if ambiguous:
            parts.append(
                f"More than one component is called {', '.join(sorted(ambiguous))}; use its slug."
            )
        raise UnknownComponents(
            " ".join([*parts, _valid_components_text(all_components)]),
            field="components",
            extra={
                "valid_components": [
                    {"slug": c.slug, "id": c.public_id, "name": c.name}
                    for c in all_components[:_VALID_LISTED_MAX]
                ]
            },
        )
    resolved: dict[str, str] = {}
    bad = []
    for key, value in requested.items():
        component = found[key]
        status = _normalise_status(value)
        if status is None:
            bad.append(f"{component.slug}={str(value)[:40]}")
            continue
        if resolved.get(component.slug, status) != status:
            raise InvalidInput(
                f"{component.name} is named twice with different statuses.", field="components"
            )
        resolved[component.slug] = status
    if bad:
        raise InvalidInput(
            f"Unknown component status(es): {', '.join(sorted(bad))}. "
            f"Use one of {', '.join(ComponentStatus.values)}.",
            field="components",
        )
    return resolved


def public_state(*, incident_id: int, before: StatusUpdate | None = None) -> PublicState:
    """The latest public incident, then every earlier accepted public update still on
    its way to the page, folded in order. ``before``: only updates posted before it."""
    latest_first = PublicIncident.objects.filter(incident_id=incident_id)
    public = latest_first.order_by("-started_at", "-id").first()
    state = PublicState(
        exists=public is not None,
        resolved=bool(public and public.is_resolved),
        name=public.name if public else "",
        public_incident=public,
    )
    pending = (
        StatusUpdate.objects.filter(
            incident_id=incident_id,
            public_update__isnull=True,
            deliveries__destination__kind=Destination.Kind.STATUSPAGE,
            deliveries__status__in=_ON_ITS_WAY,
        )
        .exclude(public_status="")
        .distinct()
        .order_by("created_at", "id")
    )
    if before is not None:
        pending = pending.exclude(pk=before.pk).filter(
            Q(created_at__lt=before.created_at) | Q(created_at=before.created_at, pk__lt=before.pk)
        )
    for update in pending:
        starts = (not state.exists) or (
            state.resolved and update.public_resolved_action == PublicResolvedAction.NEW
        )
        state = PublicState(
            exists=True,
            resolved=update.public_status == PublicStatus.RESOLVED,
            name=(update.public_title or state.name) if not starts else update.public_title,
            public_incident=None if starts else state.public_incident,
        )
    return state


def public_update_check(
    *,
    incident_id: int,
    public_status: str,
    public_title: str = "",
    components=None,
    resolved_action: str = "",
    before: StatusUpdate | None = None,
    components_by_name: bool = False,
    impact: str = "",
) -> PublicUpdatePlan:
    """Check a public update against the rules above; return what it will do.

    Writes nothing. Raises an ``ApplicationError`` naming the field at fault.
    """
    if public_status not in UPDATE_PUBLIC_STATUSES:
        raise InvalidInput(
            "Updates to the public need a public status: one of "
            f"{', '.join(UPDATE_PUBLIC_STATUSES)}.",
            field="public_status",
        )
    title = (public_title or "").strip()
    if len(title) > TITLE_MAX:
        raise InvalidInput(
            f"Ensure this field has no more than {TITLE_MAX} characters.", field="public_title"
        )
    if resolved_action and resolved_action not in PublicResolvedAction.values:
        raise InvalidInput(
            f"Unknown choice {str(resolved_action)[:20]!r}: use "
            f"{' or '.join(PublicResolvedAction.values)}.",
            field="public_resolved_action",
        )
    if impact and impact not in IMPACT_OVERRIDES:
        raise InvalidInput(
            f"Unknown impact {str(impact)[:20]!r}: use {', '.join(IMPACT_OVERRIDES)}, or leave "
            "it empty to follow the component statuses.",
            field="public_impact",
        )
    resolved_components = components_resolve(components, by_name=components_by_name)
    state = public_state(incident_id=incident_id, before=before)
    resolving = public_status == PublicStatus.RESOLVED
    starts_new = reopens = False
    if not state.exists:
        starts_new = True
    elif state.resolved and resolving:
        if resolved_components:
            raise PublicIncidentResolved(
                f"The public incident “{state.name}” is already resolved; a resolved "
                "follow-up cannot change component statuses. Post it as investigating, "
                "identified or monitoring and choose to reopen it or start a new one.",
                field="components",
            )
    elif state.resolved:
        if resolved_action == PublicResolvedAction.NEW:
            starts_new = True
        elif resolved_action == PublicResolvedAction.REOPEN:
            reopens = True
        else:
            raise PublicIncidentResolved(
                f"The public incident “{state.name}” is resolved. Choose what this update "
                "does: reopen it (the same incident page goes back to "
                f"{PublicStatus(public_status).label.lower()}) or start a new public "
                "incident (it needs its own public title).",
                field="public_resolved_action",
                extra={"choices": PublicResolvedAction.values},
            )
    if starts_new:
        if resolving:
            raise InvalidInput(
                "This incident has no open public incident, so there is nothing public to "
                "resolve or summarise. Post a public update (investigating, identified or "
                "monitoring) with a public title first.",
                field="public_status",
            )
        if not title:
            raise InvalidInput(
                "The first public update of a public incident needs a public title: the "
                "name customers read on the status page.",
                field="public_title",
            )
    current = (
        state.public_incident.impact
        if state.public_incident is not None and not starts_new
        else PublicImpact.NONE
    )
    return PublicUpdatePlan(
        components=resolved_components,
        public_title=title,
        resolved_action=resolved_action if state.resolved and not resolving else "",
        starts_new=starts_new,
        reopens=reopens,
        state=state,
        impact=impact_after(
            current=current,
            statuses=resolved_components.values(),
            resolving=resolving,
            override=impact,
        ),
        impact_override=impact,
    )


def public_update_preview(*, plan: PublicUpdatePlan, public_status: str) -> list[dict]:
    """What a checked update will do to each component it touches: now, after, and
    why (the other incidents, maintenances or an override). Writes nothing."""
    public = plan.state.public_incident
    return [
        row.as_dict()
        for row in components_after(
            public_incident_id=None if plan.starts_new or public is None else public.pk,
            public_name=plan.public_title or plan.state.name,
            resolving=public_status == PublicStatus.RESOLVED,
            requested=plan.components,
            reopening=plan.reopens,
        )
    ]
