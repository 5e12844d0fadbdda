"""Writes of scheduled maintenance: schedule, edit (reschedule), post an update,
start, verify, complete, cancel, and the beat's automatic moves and reminders.

Every write is one transaction: the maintenance row with its history row (actor
and reason), a customer-facing MaintenanceUpdate, the component status log
through ``services.component_refresh`` (a component shows the worst of its
unresolved incidents' and in-progress maintenances' effects), the subscriber
messages (their own outbox) and a snapshot request after commit. The web pages,
the admin and the beat all come here; nothing else writes a maintenance.
"""

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from common.exceptions import Conflict, InvalidInput
from common.transitions import Transitions
from common.validators import multi_line, single_line
from statuspage import subscriber_notices
from statuspage.models import (
    BODY_MAX,
    MAINTENANCE_COMPONENT_STATUSES,
    NAME_MAX,
    REMINDER_MAX_MINUTES,
    Component,
    ComponentStatus,
    MaintenanceStatus,
    MaintenanceUpdate,
    ScheduledMaintenance,
)
from statuspage.services import component_refresh, snapshot_request

Status = MaintenanceStatus

# Where a maintenance may go from each status. Completing needs a start first;
# what is over (completed or cancelled) stays over.
FLOW = Transitions(
    {
        Status.SCHEDULED: (Status.IN_PROGRESS, Status.CANCELLED),
        Status.IN_PROGRESS: (Status.VERIFYING, Status.COMPLETED, Status.CANCELLED),
        Status.VERIFYING: (Status.IN_PROGRESS, Status.COMPLETED, Status.CANCELLED),
        Status.COMPLETED: (),
        Status.CANCELLED: (),
    }
)

DEFAULT_BODIES = {
    Status.SCHEDULED: "Scheduled maintenance.",
    Status.IN_PROGRESS: "Scheduled maintenance is currently in progress.",
    Status.VERIFYING: "Maintenance is being verified.",
    Status.COMPLETED: "The scheduled maintenance has been completed.",
}

HEADLINES = {
    Status.SCHEDULED: "Scheduled maintenance",
    Status.IN_PROGRESS: "Maintenance in progress",
    Status.VERIFYING: "Maintenance being verified",
    Status.COMPLETED: "Maintenance completed",
    Status.CANCELLED: "Maintenance cancelled",
}


class _UseSetting:
    """The default reminder: ``STATUSPAGE_MAINTENANCE_REMINDER_MINUTES``."""

    def __repr__(self) -> str:
        return "STATUSPAGE_MAINTENANCE_REMINDER_MINUTES"


REMINDER_FROM_SETTINGS = _UseSetting()
UNCHANGED = object()  # an edit that leaves the reminder as it is


def _text(value: str, *, field: str, label: str, multi: bool, required: bool) -> str:
    """``value`` stripped, or InvalidInput naming ``label`` (as the form shows it)."""
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(f"{label} is required.", field=field)
    limit = BODY_MAX if multi else NAME_MAX
    if len(value) > limit:
        raise InvalidInput(
            f"{label} is {len(value)} characters long; at most {limit} are allowed.",
            field=field,
        )
    try:
        (multi_line if multi else single_line)(value)
    except ValidationError as error:
        raise InvalidInput(f"{label}: {error.messages[0]}", field=field) from error
    return value


def _window_check(
    scheduled_for: datetime, scheduled_until: datetime, *, now: datetime, new: bool
) -> None:
    if scheduled_until <= scheduled_for:
        raise InvalidInput("The window must end after it starts.", field="scheduled_until")
    if new and scheduled_until <= now:
        raise InvalidInput(
            "This window has already ended: pick an end in the future.", field="scheduled_until"
        )


def _reminder(value) -> int | None:
    if value is REMINDER_FROM_SETTINGS:
        value = settings.STATUSPAGE_MAINTENANCE_REMINDER_MINUTES or None
    if value is None:
        return None
    if not 1 <= int(value) <= REMINDER_MAX_MINUTES:
        raise InvalidInput(
            f"The reminder must be 1 to {REMINDER_MAX_MINUTES} minutes before the start (or none).",
            field="remind_minutes_before",
        )
    return int(value)


def _component_status(value: str) -> str:
    if value not in MAINTENANCE_COMPONENT_STATUSES:
        allowed = ", ".join(MAINTENANCE_COMPONENT_STATUSES)
        raise InvalidInput(
            f"Components can show one of {allowed} during a maintenance, not {value!r}.",
            field="component_status",
        )
    return value


def utc(value: datetime) -> str:
    return f"{value.astimezone(UTC):%d %b %Y %H:%M} UTC"


def _announce(
    maintenance: ScheduledMaintenance,
    *,
    status: str,
    body: str,
    actor,
    at: datetime,
    notify: bool,
    affected: list[dict] | None = None,
    headline: str = "",
) -> MaintenanceUpdate:
    """Append a customer-facing update and, if ``notify``, tell the subscribers."""
    update = MaintenanceUpdate.objects.create(
        maintenance=maintenance,
        status=status,
        body=body,
        affected_components=affected or [],
        deliver_notifications=notify,
        created_by=actor,
        display_at=at,
        created_at=at,
    )
    if notify:
        subscriber_notices.maintenance_notify(
            maintenance=maintenance,
            event=f"update:{update.public_id}",
            headline=headline or HEADLINES[status],
            body=body,
        )
    return update


def _refresh(components, *, maintenance: ScheduledMaintenance, actor, at: datetime) -> list[dict]:
    """Show what each component's effects now say; the changes, Statuspage-shaped."""
    affected = []
    for component in sorted(components, key=lambda c: (c.position, c.name)):
        old, new = component_refresh(
            component=component, actor=actor, at=at, maintenance=maintenance
        )
        if old != new:
            affected.append(
                {
                    "code": component.public_id,
                    "name": component.name,
                    "old_status": old,
                    "new_status": new,
                }
            )
    return affected


def save(maintenance: ScheduledMaintenance, *, actor, reason: str) -> None:
    maintenance._history_user = actor
    maintenance._change_reason = reason
    maintenance.save()


@transaction.atomic
def maintenance_schedule(
    *,
    name: str,
    scheduled_for: datetime,
    scheduled_until: datetime,
    components: list[Component],
    body: str = "",
    component_status: str = ComponentStatus.UNDER_MAINTENANCE,
    auto_start: bool = True,
    auto_complete: bool = True,
    notify_subscribers: bool = True,
    notify_on_start: bool = True,
    notify_on_complete: bool = True,
    remind_minutes_before=REMINDER_FROM_SETTINGS,
    actor=None,
    now: datetime | None = None,
) -> ScheduledMaintenance:
    """Create a scheduled maintenance (history row) and its first update, ``body``
    (the customer-facing description); tell subscribers unless
    ``notify_subscribers`` is off; snapshot on commit. The beat starts it at
    ``scheduled_for`` (``auto_start``) and completes it at ``scheduled_until``
    (``auto_complete``); meanwhile its components show ``component_status``."""
    now = now or timezone.now()
    name = _text(name, field="name", label="Title", multi=False, required=True)
    body = _text(body, field="body", label="Description", multi=True, required=False)
    _window_check(scheduled_for, scheduled_until, now=now, new=True)
    maintenance = ScheduledMaintenance(
        name=name,
        scheduled_for=scheduled_for,
        scheduled_until=scheduled_until,
        component_status=_component_status(component_status),
        auto_start=auto_start,
        auto_complete=auto_complete,
        notify_on_start=notify_on_start,
        notify_on_complete=notify_on_complete,
        remind_minutes_before=_reminder(remind_minutes_before),
    )
    save(maintenance, actor=actor, reason="scheduled")
    maintenance.components.set(components)
    _announce(
        maintenance,
        status=Status.SCHEDULED,
        body=body or DEFAULT_BODIES[Status.SCHEDULED],
        actor=actor,
        at=now,
        notify=notify_subscribers,
        affected=[
            {"code": c.public_id, "name": c.name, "old_status": c.status, "new_status": c.status}
            for c in components
        ],
    )
    snapshot_request()
    return maintenance


@dataclass(frozen=True)
class Change:
    """The fields an edit may change (``None``: leave as is)."""

    name: str | None = None
    scheduled_for: datetime | None = None
    scheduled_until: datetime | None = None
    components: list[Component] | None = None
    component_status: str | None = None
    auto_start: bool | None = None
    auto_complete: bool | None = None
    notify_on_start: bool | None = None
    notify_on_complete: bool | None = None
    remind_minutes_before: object = UNCHANGED  # not None: None means "no reminder"


EDITABLE = (
    "name",
    "component_status",
    "auto_start",
    "auto_complete",
    "notify_on_start",
    "notify_on_complete",
)


@transaction.atomic
def maintenance_edit(
    *,
    maintenance: ScheduledMaintenance,
    change: Change,
    actor,
    note: str = "",
    notify: bool = True,
    now: datetime | None = None,
) -> tuple[ScheduledMaintenance, MaintenanceUpdate | None]:
    """Change a maintenance that is not over. Writes a history row naming the
    changed fields, or nothing when nothing changed (a second submit is a no-op).
    A new window is announced: an update "Rescheduled to …" (with ``note``), sent
    to subscribers if ``notify``; a new start re-arms the reminder. Once started,
    the start cannot move. Components leaving or joining an in-progress maintenance,
    or a new ``component_status``, are refreshed. Returns it and the update, if any."""
    now = now or timezone.now()
    note = _text(note, field="note", label="Message to subscribers", multi=True, required=False)
    maintenance = ScheduledMaintenance.objects.select_for_update().get(pk=maintenance.pk)
    if maintenance.is_over:
        raise Conflict(
            f"This maintenance is {maintenance.get_status_display().lower()}; it can no "
            "longer be changed.",
            field="status",
        )
    changed = []
    if change.name is not None:
        name = _text(change.name, field="name", label="Title", multi=False, required=True)
        change = replace(change, name=name)
    if change.component_status is not None:
        _component_status(change.component_status)
    for field in EDITABLE:
        value = getattr(change, field)
        if value is not None and value != getattr(maintenance, field):
            setattr(maintenance, field, value)
            changed.append(field)
    if change.remind_minutes_before is not UNCHANGED:
        reminder = _reminder(change.remind_minutes_before)
        if reminder != maintenance.remind_minutes_before:
            maintenance.remind_minutes_before = reminder
            maintenance.reminder_sent_at = None
            changed.append("remind_minutes_before")

    old_window = (maintenance.scheduled_for, maintenance.scheduled_until)
    starts = change.scheduled_for or maintenance.scheduled_for
    ends = change.scheduled_until or maintenance.scheduled_until
    if starts != maintenance.scheduled_for and maintenance.status != Status.SCHEDULED:
        raise Conflict(
            "This maintenance has already started: only its end can move.",
            field="scheduled_for",
        )
    if (starts, ends) != old_window:
        _window_check(starts, ends, now=now, new=False)
        if maintenance.status == Status.SCHEDULED and ends <= now:
            raise InvalidInput(
                "This window has already ended: pick an end in the future.",
                field="scheduled_until",
            )
        if starts != maintenance.scheduled_for:
            maintenance.reminder_sent_at = None
        maintenance.scheduled_for, maintenance.scheduled_until = starts, ends
        changed.append("window")

    old_components = list(maintenance.components.all())
    components_changed = change.components is not None and {c.pk for c in change.components} != {
        c.pk for c in old_components
    }
    if components_changed:
        changed.append("components")
    if not changed:
        return maintenance, None

    save(maintenance, actor=actor, reason="edited: " + ", ".join(changed))
    if components_changed:
        maintenance.components.set(change.components)
    affected = []
    if maintenance.is_active and (components_changed or "component_status" in changed):
        touched = {c.pk: c for c in [*old_components, *(change.components or [])]}
        affected = _refresh(touched.values(), maintenance=maintenance, actor=actor, at=now)
    update = None
    if "window" in changed:
        text = f"Rescheduled: now {utc(starts)} to {utc(ends)}."
        if note:
            text = f"{text}\n\n{note}"
        update = _announce(
            maintenance,
            status=maintenance.status,
            body=text,
            actor=actor,
            at=now,
            notify=notify,
            affected=affected,
            headline="Maintenance rescheduled",
        )
    snapshot_request()
    return maintenance, update


@transaction.atomic
def maintenance_update_post(
    *,
    maintenance: ScheduledMaintenance,
    body: str,
    actor,
    notify: bool = True,
    now: datetime | None = None,
) -> MaintenanceUpdate:
    """Post a customer-facing message on a maintenance that is not over, at its
    current status; subscribers get it if ``notify``. Snapshot on commit."""
    now = now or timezone.now()
    body = _text(body, field="body", label="Message", multi=True, required=True)
    maintenance = ScheduledMaintenance.objects.select_for_update().get(pk=maintenance.pk)
    if maintenance.is_over:
        raise Conflict(
            f"This maintenance is {maintenance.get_status_display().lower()}: post a new "
            "maintenance or an incident instead.",
            field="body",
        )
    update = _announce(
        maintenance,
        status=maintenance.status,
        body=body,
        actor=actor,
        at=now,
        notify=notify,
        headline=f"Update: {maintenance.get_status_display()}",
    )
    maintenance._history_user = actor
    maintenance._change_reason = "update posted"
    maintenance.save(update_fields=["updated_at"])
    snapshot_request()
    return update


def notify_default(maintenance: ScheduledMaintenance, to: str) -> bool:
    """Whether subscribers are told of a move unless the person moving it says."""
    return {
        Status.IN_PROGRESS: maintenance.notify_on_start,
        Status.COMPLETED: maintenance.notify_on_complete,
    }.get(to, True)


def _refusal(maintenance: ScheduledMaintenance, to: str) -> str:
    if maintenance.status == to:
        return f"This maintenance is already {maintenance.get_status_display().lower()}."
    if maintenance.status == Status.SCHEDULED and to in (Status.COMPLETED, Status.VERIFYING):
        return "This maintenance has not started yet: start it first, or cancel it."
    if maintenance.is_over:
        return (
            f"This maintenance is already {maintenance.get_status_display().lower()}; "
            "it cannot be moved again."
        )
    return (
        f"A maintenance cannot move from {maintenance.get_status_display().lower()} "
        f"to {Status(to).label.lower()}."
    )


@transaction.atomic
def maintenance_move(
    *,
    maintenance: ScheduledMaintenance,
    to: str,
    actor=None,
    body: str = "",
    notify: bool | None = None,
    at: datetime | None = None,
) -> ScheduledMaintenance:
    """Move a maintenance along ``FLOW`` (Conflict naming why not). In progress
    gives its components its ``component_status`` effect; completed or cancelled
    drops it, so each shows what its other incidents and maintenances still say.
    Writes the history row and an update (``body`` or the default wording); tells
    subscribers if ``notify`` (default: the maintenance's ``notify_on_start`` /
    ``notify_on_complete``; always for a cancellation). Snapshot on commit."""
    at = at or timezone.now()
    if to not in Status.values:
        raise InvalidInput(f"Unknown maintenance status {to!r}.", field="status")
    body = _text(body, field="body", label="Message", multi=True, required=False)
    maintenance = ScheduledMaintenance.objects.select_for_update().get(pk=maintenance.pk)
    FLOW.require(
        maintenance.status, to, lambda: Conflict(_refusal(maintenance, to), field="status")
    )
    if to == Status.CANCELLED and not body:
        raise InvalidInput("Say why it is cancelled: subscribers read it.", field="reason")
    if to == Status.IN_PROGRESS:
        maintenance.started_at = maintenance.started_at or at
    elif to == Status.COMPLETED:
        maintenance.completed_at = at
    elif to == Status.CANCELLED:
        maintenance.cancelled_at = at
    maintenance.status = to
    save(maintenance, actor=actor, reason=f"moved to {to}")
    affected = _refresh(maintenance.components.all(), maintenance=maintenance, actor=actor, at=at)
    if notify is None:
        notify = notify_default(maintenance, to)
    _announce(
        maintenance,
        status=to,
        body=body or DEFAULT_BODIES[to],
        actor=actor,
        at=at,
        notify=notify,
        affected=affected,
    )
    snapshot_request()
    return maintenance


def maintenance_cancel(
    *, maintenance: ScheduledMaintenance, reason: str, actor, notify: bool = True
) -> ScheduledMaintenance:
    """Call a maintenance off (scheduled or in progress) with ``reason``, the update
    subscribers read; its components return to what their other effects say."""
    reason = _text(reason, field="reason", label="Reason", multi=True, required=True)
    return maintenance_move(
        maintenance=maintenance, to=Status.CANCELLED, body=reason, actor=actor, notify=notify
    )


def description(maintenance: ScheduledMaintenance) -> str:
    """What customers were told when it was scheduled (its first update)."""
    first = maintenance.updates.order_by("display_at", "id").first()
    return first.body if first else ""
