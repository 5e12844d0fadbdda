"""What the Communications tab's composer needs from the status page (reads only).

Registered with the status page channel at start-up (``StatuspageConfig.ready``),
so ``notifications`` shows the component picker and the preview without importing
this app:

- ``composer_state`` — every component by group with the status it shows and this
  incident's own effect on it, the public statuses allowed for the incident's public
  state, whether a public title is needed, and how many subscribers are confirmed;
- ``page_preview`` — the public incident block of a checked update, rendered by the
  template the status page itself uses (``statuspage/_incident_block.html``), with
  the page's own stylesheet scoped to the preview.
"""

from functools import cache

from django.template.loader import render_to_string
from django.utils import timezone

from notifications.models import UPDATE_PUBLIC_STATUSES, PublicImpact, PublicStatus
from statuspage import selectors, subscriber_notices, validation
from statuspage.models import (
    Component,
    ComponentStatus,
    PublicIncident,
    PublicIncidentComponent,
    PublicIncidentUpdate,
)
from statuspage.pages import STATIC_SOURCE
from statuspage.subscriber_models import Subscriber

STATUS_LABELS = dict(ComponentStatus.choices)
PREVIEW_SCOPE = ".status-preview"


def _allowed_statuses(state: validation.PublicState) -> list[tuple[str, str]]:
    """A public incident cannot start as resolved; once it exists every status is
    allowed (on a resolved one, a non-resolved status reopens it or starts anew)."""
    statuses = UPDATE_PUBLIC_STATUSES
    if not state.exists:
        statuses = [s for s in statuses if s != PublicStatus.RESOLVED]
    return [(s, PublicStatus(s).label) for s in statuses]


def composer_state(*, incident_id: int) -> dict:
    state = validation.public_state(incident_id=incident_id)
    public = state.public_incident
    own = {}
    if public is not None and not state.resolved:
        own = dict(
            PublicIncidentComponent.objects.filter(public_incident=public).values_list(
                "component_id", "status"
            )
        )
    groups: list[dict] = []
    by_group: dict[int | None, dict] = {}
    for component in selectors.components_all():
        key = component.group_id
        if key not in by_group:
            by_group[key] = {
                "name": component.group.name if component.group else "",
                "components": [],
            }
            groups.append(by_group[key])
        effect = own.get(component.pk, "")
        by_group[key]["components"].append(
            {
                "id": component.public_id,
                "slug": component.slug,
                "name": component.name,
                "description": component.description,
                "status": component.status,
                "status_label": STATUS_LABELS[component.status],
                "effect": effect,
                "effect_label": STATUS_LABELS.get(effect, ""),
                "override": component.override_status,
            }
        )
    # Ungrouped components first, as on the page where they stand on their own.
    groups.sort(key=lambda group: group["name"] != "")
    return {
        "groups": groups,
        "incident": {
            "exists": state.exists,
            "resolved": state.resolved,
            "name": state.name,
            "status": public.get_status_display() if public is not None else "",
            "impact": public.impact if public is not None else "",
            "impact_label": public.get_impact_display() if public is not None else "",
        },
        "statuses": _allowed_statuses(state),
        # Each status with the impact it gives (Statuspage's default), for the picker.
        "component_statuses": [
            (status, label, validation.impact_for_statuses([status]))
            for status, label in ComponentStatus.choices
        ],
        "needs_title": not state.exists,
        "subscribers": Subscriber.objects.filter(
            confirmed_at__isnull=False, unsubscribed_at__isnull=True
        ).count(),
    }


@cache
def preview_css() -> str:
    """The status page's stylesheet, applied only inside the preview (CSS ``@scope``)."""
    css = (STATIC_SOURCE / "statuspage" / "status.css").read_text()
    return f"@scope ({PREVIEW_SCOPE}) {{\n{css.replace(':root', ':scope')}\n}}"


def page_preview(*, plan: validation.PublicUpdatePlan, public_status: str, message: str) -> dict:
    """The public incident block as the page will show it once the update is
    published, the email its subscribers get, and how many confirmed subscribers
    (email and webhook) it reaches. Writes nothing."""
    now = timezone.now()
    existing = None if plan.starts_new else plan.state.public_incident
    resolving = public_status == PublicStatus.RESOLVED
    incident = PublicIncident(
        # A new public incident's id (and so its link) is made when it is published.
        public_id=existing.public_id if existing else "(new)",
        name=plan.public_title or plan.state.name,
        status=public_status,
        impact=plan.impact or PublicImpact.NONE,
        started_at=existing.started_at if existing else now,
        resolved_at=((existing.resolved_at if existing else None) or now) if resolving else None,
    )
    shown = {c.pk: c for c in existing.components.all()} if existing else {}
    if not resolving:
        for component in Component.objects.filter(slug__in=list(plan.components)):
            shown.setdefault(component.pk, component)
    components = sorted(shown.values(), key=lambda c: (c.position, c.name))
    published = PublicIncidentUpdate(status=public_status, body=message, display_at=now)
    updates = [published]
    if existing is not None:
        updates += list(existing.updates.order_by("-display_at", "-id"))
    html = render_to_string(
        "statuspage/_incident_block.html",
        {"incident": incident, "components": components, "updates": updates},
    )
    subject, body = subscriber_notices.incident_update_message(
        public=incident, update=published, components=components
    )
    return {
        "html": html,
        "css": preview_css(),
        "email_subject": subject,
        "email_body": body,
        "impact": incident.impact,
        "impact_label": incident.get_impact_display(),
        "subscribers": subscriber_notices.subscribers_of(components).count(),
    }
