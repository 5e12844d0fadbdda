"""The beat's maintenance work: starting and completing maintenances on time, and
reminding subscribers before one starts. Every move goes through
``statuspage.maintenance.maintenance_move``."""

from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from common.exceptions import ApplicationError
from statuspage import subscriber_notices
from statuspage.maintenance import (
    Status,
    description,
    maintenance_move,
    save,
)
from statuspage.models import REMINDER_MAX_MINUTES, ScheduledMaintenance


def maintenances_advance(*, now: datetime | None = None) -> list[tuple[str, str]]:
    """Beat: start maintenances whose start has come (``auto_start``) and complete
    those past their end (``auto_complete``); one whose whole window passed while
    the beat was away is started, then completed. Each move is its own
    transaction, so one failure does not hold the others. Returns (public id, new
    status) pairs."""
    now = now or timezone.now()
    moved = []
    due = ScheduledMaintenance.objects.filter(
        Q(status=Status.SCHEDULED, auto_start=True, scheduled_for__lte=now)
        | Q(
            status__in=[Status.IN_PROGRESS, Status.VERIFYING],
            auto_complete=True,
            scheduled_until__lte=now,
        )
    ).order_by("scheduled_for", "pk")
    for maintenance in due:
        steps = []
        if maintenance.status == Status.SCHEDULED:
            steps.append(Status.IN_PROGRESS)
        if maintenance.auto_complete and maintenance.scheduled_until <= now:
            steps.append(Status.COMPLETED)
        for to in steps:
            try:
                maintenance_move(maintenance=maintenance, to=to, at=now)
            except ApplicationError:
                break  # moved meanwhile by a person or another beat: nothing to do
            moved.append((maintenance.public_id, to))
    return moved


def maintenances_remind(*, now: datetime | None = None) -> list[str]:
    """Beat: remind subscribers once, ``remind_minutes_before`` the start of each
    scheduled maintenance that asks for it (again after its start moved)."""
    now = now or timezone.now()
    reminded = []
    soon = ScheduledMaintenance.objects.filter(
        status=Status.SCHEDULED,
        reminder_sent_at__isnull=True,
        remind_minutes_before__isnull=False,
        scheduled_for__gt=now,
        scheduled_for__lte=now + timedelta(minutes=REMINDER_MAX_MINUTES),
    )
    for maintenance in soon:
        if maintenance.scheduled_for - timedelta(minutes=maintenance.remind_minutes_before) > now:
            continue
        with transaction.atomic():
            locked = ScheduledMaintenance.objects.select_for_update().get(pk=maintenance.pk)
            if locked.reminder_sent_at is not None or locked.status != Status.SCHEDULED:
                continue
            locked.reminder_sent_at = now
            save(locked, actor=None, reason="reminder sent")
            minutes = max(1, round((locked.scheduled_for - now).total_seconds() / 60))
            subscriber_notices.maintenance_notify(
                maintenance=locked,
                event=f"reminder:{locked.scheduled_for.astimezone(UTC):%Y%m%dT%H%M}",
                headline=f"Starts in {_duration(minutes)}",
                body=description(locked),
            )
        reminded.append(locked.public_id)
    return reminded


def _duration(minutes: int) -> str:
    if minutes < 120:
        return f"{minutes} minutes"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} hours"
