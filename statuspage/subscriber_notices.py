"""What subscribers are sent when the page changes: a published incident update, a
maintenance step, a component's new status (webhook subscribers only).

Every message is built from the public models only (the published name, the
published update body, component names), never from the internal incident, and is
written by ``statuspage.fanout`` in the transaction of the change, once per
(subscriber, event). Subscribing, confirming and unsubscribing (and the messages
those send) are ``statuspage.subscriptions``.
"""

from datetime import UTC

from django.conf import settings
from django.db.models import Q

from common import webhook_contracts
from statuspage import documents, fanout, selectors
from statuspage.models import (
    Component,
    ComponentStatusChange,
    PublicIncident,
    PublicIncidentUpdate,
    ScheduledMaintenance,
)
from statuspage.page_settings import page_name
from statuspage.subscriber_models import Subscriber


def event_head(event: str) -> dict:
    """``type`` and ``version`` of a subscriber event (docs/events/<type>.json);
    Statuspage-compatible receivers ignore the two extra keys."""
    return {"type": event, "version": webhook_contracts.VERSIONS[event]}


def subscribers_of(components: list[Component], *, kind: str | None = None):
    """Active subscribers (of ``kind``, if given) who chose none (all) or one of
    these components."""
    ids = [c.pk for c in components]
    subscribers = Subscriber.objects.filter(
        confirmed_at__isnull=False, unsubscribed_at__isnull=True
    )
    if kind is not None:
        subscribers = subscribers.filter(kind=kind)
    return subscribers.filter(Q(components__isnull=True) | Q(components__in=ids)).distinct()


def _page_status() -> dict:
    components = list(selectors.components_all())
    indicator = selectors.page_indicator(
        components, list(selectors.incidents_unresolved()), list(selectors.maintenances_active())
    )
    return {
        "id": settings.STATUSPAGE_PAGE_ID,
        "status_indicator": indicator,
        "status_description": selectors.INDICATOR_DESCRIPTIONS[indicator],
    }


def _envelope(document: dict, page: dict, *, event: str = "incident_update") -> dict:
    """Statuspage's webhook shape: ``meta``, ``page``, ``incident``."""
    return {
        **event_head(event),
        "meta": {"unsubscribe": None, "documentation": f"{settings.KEEL_PUBLIC_URL}/status/"},
        "page": page,
        "incident": document,
    }


def incident_update_notify(*, update: PublicIncidentUpdate) -> list:
    """Fan a published incident update out to the subscribers of its components."""
    public = selectors.incidents_with_updates().get(pk=update.public_incident_id)
    components = list(public.components.all())
    subscribers = subscribers_of(components)
    if not subscribers.exists():
        return []
    subject, body = incident_update_message(public=public, update=update, components=components)
    return fanout.notifications_write(
        subscribers,
        event=f"incident-update:{update.public_id}",
        subject=subject,
        body=body,
        payload=_envelope(documents.incident(public), _page_status()),
    )


def incident_update_message(
    *, public: PublicIncident, update: PublicIncidentUpdate, components: list[Component]
) -> tuple[str, str]:
    """The subscriber email of one published update: ``(subject, body)``. Writes
    nothing (it reads only the page's name); the composer's preview calls it with the
    unsaved rows it simulates."""
    affected = ", ".join(c.name for c in components)
    body = (
        f"{public.name}\n{update.get_status_display()}: {update.body}\n\n"
        + (f"Affected: {affected}\n" if affected else "")
        + f"Details: {settings.KEEL_PUBLIC_URL}/status/incidents/{public.public_id}/"
    )
    subject = f"[{page_name()} status] {public.name}: {update.get_status_display()}"
    return subject, body


def _window(maintenance: ScheduledMaintenance) -> str:
    return (
        f"{maintenance.scheduled_for.astimezone(UTC):%Y-%m-%d %H:%M} to "
        f"{maintenance.scheduled_until.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    )


def maintenance_notify(
    *, maintenance: ScheduledMaintenance, event: str, headline: str, body: str
) -> list:
    """Write one message per subscriber of the maintenance's components: its name,
    ``headline``, the window and ``body`` (customer-facing text). ``event`` makes it
    once per subscriber (``maintenance:<public id>:<what>``)."""
    maintenance = selectors.maintenances_with_updates().get(pk=maintenance.pk)
    components = list(maintenance.components.all())
    subscribers = subscribers_of(components)
    if not subscribers.exists():
        return []
    text = (
        f"{maintenance.name}\n{headline}\n"
        f"Scheduled {_window(maintenance)}.\n"
        + (f"{body}\n" if body else "")
        + (f"Components: {', '.join(c.name for c in components)}\n" if components else "")
        + f"Details: {settings.KEEL_PUBLIC_URL}/status/maintenances/{maintenance.public_id}/"
    )
    return fanout.notifications_write(
        subscribers,
        event=f"maintenance:{maintenance.public_id}:{event}"[:100],
        subject=f"[{page_name()} status] {maintenance.name}: {headline}",
        body=text,
        payload=_envelope(
            documents.maintenance(maintenance), _page_status(), event="maintenance_update"
        ),
    )


def component_update_notify(*, change: ComponentStatusChange) -> list:
    """A component's status changed: its webhook subscribers (of that component, or
    of all) get Statuspage's ``component_update`` payload. Email subscribers hear
    about incidents and maintenance, not about every component flip."""
    if not change.previous_status or change.previous_status == change.status:
        return []
    component = Component.objects.select_related("group").get(pk=change.component_id)
    subscribers = subscribers_of([component], kind=Subscriber.Kind.WEBHOOK)
    if not subscribers.exists():
        return []
    return fanout.notifications_write(
        subscribers,
        event=f"component-update:{change.pk}",
        subject=f"{component.name}: {component.get_status_display()}",
        body="",
        payload={
            **event_head("component_update"),
            "meta": {"unsubscribe": None, "documentation": f"{settings.KEEL_PUBLIC_URL}/status/"},
            "page": _page_status(),
            "component_update": {
                "created_at": documents.iso(change.changed_at),
                "new_status": change.status,
                "old_status": change.previous_status,
                "id": str(change.pk),
                "component_id": component.public_id,
            },
            "component": documents.component(component),
        },
    )
