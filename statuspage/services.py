"""Writes of the status page. Each writes its rows and the component status log
in one transaction and asks for a new snapshot after commit."""

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from common.enqueue import publish
from common.exceptions import InvalidInput
from incidents.models import Incident
from notifications.models import PublicStatus
from statuspage import selectors, subscriber_notices, validation
from statuspage.models import (
    Component,
    ComponentStatus,
    ComponentStatusChange,
    PublicIncident,
    PublicIncidentComponent,
    PublicIncidentUpdate,
    ScheduledMaintenance,
)
from statuspage.tasks import statuspage_publish_snapshot_task

logger = logging.getLogger(__name__)


def snapshot_request() -> None:
    """Publish a fresh snapshot after the current transaction commits.

    A broker outage only delays it: the beat republishes periodically.
    """

    def enqueue():
        # Stamped at commit time (not when the message was built): see the task.
        publish(
            [(statuspage_publish_snapshot_task, (timezone.now().isoformat(),))],
            what="snapshot publish (the beat republishes)",
        )

    transaction.on_commit(enqueue)


def component_set_status(
    *,
    component: Component,
    status: str,
    actor=None,
    at: datetime | None = None,
    public_incident: PublicIncident | None = None,
    maintenance: ScheduledMaintenance | None = None,
) -> ComponentStatusChange | None:
    """Set a component's status and append the change to the uptime log.

    Returns the log row, or None when the status did not change. A change (not
    the first record) is sent to the component's webhook subscribers.
    """
    if status not in ComponentStatus.values:
        raise InvalidInput(f"Unknown component status {status!r}.", field="status")
    at = at or timezone.now()
    with transaction.atomic():
        locked = Component.objects.select_for_update().get(pk=component.pk)
        previous = locked.status
        has_log = ComponentStatusChange.objects.filter(component=locked).exists()
        if previous == status and has_log:
            return None
        if previous != status:
            locked.status = status
            locked._history_user = actor
            locked._change_reason = f"status {previous} → {status}"
            locked.save(update_fields=["status", "updated_at"])
        component.status = status
        change = ComponentStatusChange.objects.create(
            component=locked,
            status=status,
            previous_status=previous if has_log else "",
            changed_at=at,
            public_incident=public_incident,
            maintenance=maintenance,
        )
        subscriber_notices.component_update_notify(change=change)
        return change


def component_refresh(
    *,
    component: Component,
    actor=None,
    at: datetime | None = None,
    public_incident: PublicIncident | None = None,
    maintenance: ScheduledMaintenance | None = None,
) -> tuple[str, str]:
    """Show what the component's effects say: its override if set, else the worst of
    its unresolved public incidents and in-progress maintenances. Logs a change (with
    what caused it) through ``component_set_status``. Returns (old, new) status."""
    locked = Component.objects.select_for_update().get(pk=component.pk)
    effects = selectors.component_effects([locked.pk])[locked.pk]
    new = selectors.status_from_effects(effects, override=locked.override_status)
    old = locked.status
    component_set_status(
        component=locked,
        status=new,
        actor=actor,
        at=at,
        public_incident=public_incident,
        maintenance=maintenance,
    )
    component.status = new
    component.override_status = locked.override_status
    return old, new


@transaction.atomic
def component_override_set(
    *, component: Component, status: str, reason: str = "", actor=None, refresh: bool = True
) -> Component:
    """Set (or, with ``status=""``, clear) a component's manual override: shown
    instead of what its incidents and maintenances say, and shown as set by hand.
    Audited (history row); refreshes the displayed status and asks for a snapshot."""
    if status and status not in ComponentStatus.values:
        raise InvalidInput(f"Unknown component status {status!r}.", field="override_status")
    locked = Component.objects.select_for_update().get(pk=component.pk)
    locked.override_status = status
    locked.override_reason = (reason or "")[:200] if status else ""
    locked._history_user = actor
    locked._change_reason = f"override {status or 'cleared'}"
    locked.save(update_fields=["override_status", "override_reason", "updated_at"])
    component.override_status = locked.override_status
    component.override_reason = locked.override_reason
    if refresh:
        component_refresh(component=component, actor=actor)
        snapshot_request()
    return component


@transaction.atomic
def public_incident_publish(*, update, actor=None) -> PublicIncidentUpdate:
    """Apply a status update addressed to the public audience to the status page.

    Checks it again with ``validation.public_update_check`` (the request already
    did; the page may have changed since). Creates a PublicIncident on the first
    publish, or when the public incident was resolved and the responder chose
    ``new`` (title from ``update.public_title``); ``reopen`` reopens the resolved
    one. Appends a PublicIncidentUpdate (the update's message — written for
    customers — and nothing else from the internal incident), sets the named
    components' statuses and logs them. On ``resolved``, affected components not
    named in the update return to operational. Idempotent per StatusUpdate.
    Enqueues a snapshot on commit.
    """
    existing = PublicIncidentUpdate.objects.filter(source_update=update).first()
    if existing is not None:
        return existing
    # One publish per incident at a time: the check and the write see the same page.
    Incident.objects.select_for_update().filter(pk=update.incident_id).first()
    plan = validation.public_update_check(
        incident_id=update.incident_id,
        public_status=update.public_status,
        public_title=update.public_title,
        components=update.components,
        resolved_action=update.public_resolved_action,
        before=update,
        impact=update.public_impact,
    )
    requested = plan.components
    components = {c.slug: c for c in Component.objects.filter(slug__in=list(requested))}
    now = update.created_at or timezone.now()

    if plan.starts_new:
        public = PublicIncident(
            incident_id=update.incident_id, name=plan.public_title, started_at=now
        )
    else:
        public = PublicIncident.objects.get(pk=plan.state.public_incident.pk)
        if plan.public_title:
            public.name = plan.public_title
    public.status = update.public_status
    if public.status == PublicStatus.MONITORING and public.monitoring_at is None:
        public.monitoring_at = now
    if public.status == PublicStatus.RESOLVED:
        public.resolved_at = public.resolved_at or now
    else:
        public.resolved_at = None
    public._history_user = actor
    public._change_reason = (
        f"reopened: {update.public_status}" if plan.reopens else f"published {update.public_status}"
    )
    public.save()

    resolving = public.status == PublicStatus.RESOLVED
    if plan.reopens:
        # A reopened incident starts from no effect: what it said before it was
        # resolved is history, not today's state. Only what this update names counts.
        for effect in PublicIncidentComponent.objects.filter(public_incident=public).exclude(
            component__slug__in=list(requested)
        ):
            effect.status = ComponentStatus.OPERATIONAL
            effect._history_user = actor
            effect.save(update_fields=["status", "updated_at"])
    plan_after = selectors.components_after(
        public_incident_id=public.pk,
        public_name=public.name,
        resolving=resolving,
        requested=requested,
    )
    for row in plan_after:
        component = row.component
        if resolving:
            if row.override != component.override_status:
                component_override_set(
                    component=component,
                    status=row.override,
                    reason=f"chosen when resolving “{public.name}”" if row.override else "",
                    actor=actor,
                    refresh=False,
                )
        elif component.slug in requested:
            PublicIncidentComponent.objects.update_or_create(
                public_incident=public,
                component=component,
                defaults={"status": requested[component.slug]},
            )
    if requested and not resolving:
        public.components.add(*[components[slug] for slug in requested])
    affected = []
    for row in plan_after:
        old, new = component_refresh(
            component=row.component, actor=actor, at=now, public_incident=public
        )
        affected.append(
            {
                "code": row.component.public_id,
                "name": row.component.name,
                "old_status": old,
                "new_status": new,
            }
        )
    impact = validation.impact_after(
        current=public.impact,
        statuses=requested.values(),
        resolving=resolving,
        override=plan.impact_override,
    )
    if impact != public.impact:
        public.impact = impact
        public.save(update_fields=["impact", "updated_at"])

    published = PublicIncidentUpdate.objects.create(
        public_incident=public,
        source_update=update,
        status=update.public_status,
        body=update.message,
        affected_components=affected,
        display_at=now,
        created_at=now,
    )
    subscriber_notices.incident_update_notify(update=published)
    snapshot_request()
    return published
