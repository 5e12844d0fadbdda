"""Flap damping: a resolved incident moves to recover only once every alert group of
it stayed resolved for its source's hold time (``resolve_hold_seconds``).

Each resolve schedules ``alert_incident_settle_task`` for when its hold ends; the
beat's ``alert_groups_settle_task`` catches a check whose message was lost. A
re-fire within the hold clears ``resolved_since`` (``receive``), so the check finds
the group firing and does nothing.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from incidents import lifecycle, services
from incidents.intake.locks import group_lock
from incidents.intake.models import AlertGroup
from incidents.lifecycle import Stage
from incidents.models import Incident, TimelineEvent

ALERT = TimelineEvent.Source.ALERT
SWEEP_BATCH = 200


def schedule(*, incident_id: int, hold_seconds: int) -> None:
    """After commit, check ``incident_id`` once its hold has passed."""
    # The one publishing mechanism (after commit, bounded, broker errors logged and
    # left to the sweep) is the outbox's; imported here, where it is used.
    from common.enqueue import enqueue_on_commit
    from incidents.tasks import alert_incident_settle_task

    options = {"countdown": hold_seconds + 0.5}
    enqueue_on_commit(
        [(alert_incident_settle_task, (incident_id,), options)], what="alert hold check"
    )


def _held_long_enough(group: AlertGroup, now: datetime) -> bool:
    hold = timedelta(seconds=group.source.resolve_hold_seconds if group.source else 0)
    return (
        group.last_status == "resolved"
        and group.resolved_since is not None
        and group.resolved_since + hold <= now
    )


@transaction.atomic
def incident_settle(*, incident_id: int) -> str:
    """Move the incident to recover if every alert group of it stayed resolved for
    its hold time; returns what it found. Writes the move (and its timeline event)."""
    keys = AlertGroup.objects.filter(incident_id=incident_id).values_list("key_hash", flat=True)
    for key_hash in sorted(keys):
        group_lock(key_hash)  # a re-fire of one of them waits for this check, or it for it
    now = timezone.now()
    incident = Incident.objects.select_for_update().filter(pk=incident_id).first()
    if incident is None or incident.closed_at is not None:
        return "closed"
    if lifecycle.index(incident.stage) >= lifecycle.index(Stage.RECOVER):
        return "recovered already"
    groups = list(incident.alert_groups.select_related("source", "source__user"))
    if not groups or not all(_held_long_enough(group, now) for group in groups):
        return "holding"
    source = groups[0].source
    actor = (source.user if source else None) or incident.created_by
    hold = source.resolve_hold_seconds if source else 0
    via = f"via {source.label}" if source else "via alerts"
    flaps = sum(group.flaps for group in groups)
    note = f"{via} — every alert resolved and stayed resolved for {hold} s."
    if flaps:
        note += f" Re-fires within the hold, not announced: {flaps}."
    services.incident_move(
        incident=incident, to=Stage.RECOVER, actor=actor, note=note, source=ALERT
    )
    return "recovered"


def groups_settle_due() -> int:
    """The beat's pass: settle each open incident, before recover, whose groups are
    all resolved; returns how many moved."""
    before = [s for s in lifecycle.ORDER if lifecycle.index(s) < lifecycle.index(Stage.RECOVER)]
    candidates = (
        AlertGroup.objects.filter(
            last_status="resolved",
            resolved_since__isnull=False,
            incident__closed_at__isnull=True,
            incident__stage__in=before,
        )
        .values_list("incident_id", flat=True)
        .distinct()[:SWEEP_BATCH]
    )
    return sum(incident_settle(incident_id=pk) == "recovered" for pk in list(candidates))
