"""Moving an incident through the lifecycle (``incidents.lifecycle`` decides) and correcting a
stage's time."""

from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from common.exceptions import InvalidInput
from incidents import lifecycle
from incidents.lifecycle import MoveKind, Stage
from incidents.models import (
    SHORT_TEXT_MAX,
    TEXT_MAX,
    Incident,
)
from incidents.services.base import Kind, Source, announce, lock, require_driver, save
from incidents.timeline import timeline_record


@transaction.atomic
def incident_move(
    *, incident: Incident, to: str, actor, note: str = "", source: str = Source.WEB
) -> Incident:
    """Move ``incident`` to stage ``to`` (forward, skipping forward, or reopen).

    Locks the row, checks the transition table, stamps the stage's time and
    actor, and writes a timeline event per move (skips name the stages skipped).
    Raises ``IllegalStageMove`` (409) with the reason.
    """
    require_driver(actor)
    if len(note) > TEXT_MAX:
        raise InvalidInput(
            f"Ensure this field has no more than {TEXT_MAX} characters.", field="note"
        )
    incident = lock(incident)
    move = lifecycle.plan_move(
        current=incident.stage, target=to, closed=incident.closed_at is not None
    )
    now = timezone.now()
    changed = ["stage"]
    if move.kind == MoveKind.REOPEN:
        previous_recovery = incident.recovered_at
        incident.recovered_at = None
        incident.recovered_by = None
        incident.reopened_count += 1
        changed += ["recovered_at", "recovered_by", "reopened_count"]
        kind = Kind.REOPENED
        text = note or "Reopened: the recovery regressed."
        data = {
            "from": move.source,
            "to": move.target,
            "previous_recovered_at": previous_recovery.isoformat() if previous_recovery else None,
        }
    else:
        at_field, by_field = lifecycle.STAGE_FIELDS[move.target]
        setattr(incident, at_field, now)
        setattr(incident, by_field, actor)
        changed += [at_field, by_field]
        kind = Kind.STAGE_SKIPPED if move.kind == MoveKind.SKIP else Kind.STAGE_MOVED
        text = note
        data = {"from": move.source, "to": move.target, "skipped": list(move.skipped)}
    incident.stage = move.target
    save(
        incident, actor=actor, reason=f"stage {move.source} → {move.target}", update_fields=changed
    )
    timeline_record(incident, kind=kind, actor=actor, source=source, text=text, data=data, at=now)
    verb = "Reopened" if move.kind == MoveKind.REOPEN else "Moved"
    # Restored service and a regression are what stakeholders wait for; other moves
    # are the responders' working notes (the default routes tell them apart).
    if move.kind == MoveKind.REOPEN:
        announce_kind = "reopened"
    elif (
        lifecycle.index(move.source)
        < lifecycle.index(Stage.RECOVER)
        <= lifecycle.index(move.target)
    ):
        announce_kind = "resolved"
    else:
        announce_kind = "stage"
    announce(
        incident,
        kind=announce_kind,
        message=f"{verb}: {incident.get_stage_display()}" + (f" — {note}" if note else ""),
        actor=actor,
        source=source,
    )
    return incident


def _moment(at: datetime | None) -> str:
    """A stage time as the timeline reads it (UTC, as the page shows times)."""
    if at is None:
        return "— (skipped)"
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S UTC" if at.second else "%Y-%m-%d %H:%M UTC")


@transaction.atomic
def incident_stage_time_correct(
    *,
    incident: Incident,
    stage: str,
    at: datetime,
    reason: str,
    actor,
    source: str = Source.WEB,
) -> Incident:
    """Correct when ``stage`` was reached (or give a wrongly skipped stage its time).

    The lifecycle checks the correction (``lifecycle.plan_correction``): not in the
    future, not before detection, only stages up to the current one. The incident's
    history row names the change and a "stage time corrected" event says from what to
    what and why, so durations change in the open. A formerly skipped stage is
    credited to the corrector. Works on closed incidents too (their durations are
    what reports read). The stage itself never changes here.
    """
    require_driver(actor)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the time is corrected.", field="reason")
    if len(reason) > SHORT_TEXT_MAX:
        raise InvalidInput(
            f"Ensure this field has no more than {SHORT_TEXT_MAX} characters.", field="reason"
        )
    incident = lock(incident)
    times = {
        name: getattr(incident, at_field)
        for name, (at_field, _by) in lifecycle.STAGE_FIELDS.items()
    }
    now = timezone.now()
    correction = lifecycle.plan_correction(
        times=times,
        started_at=incident.started_at,
        current=incident.stage,
        stage=stage,
        at=at,
        now=now,
    )
    at_field, by_field = lifecycle.STAGE_FIELDS[stage]
    changed = [at_field]
    setattr(incident, at_field, correction.corrected)
    if correction.previous is None:
        setattr(incident, by_field, actor)
        changed.append(by_field)
    label = Stage(stage).label
    save(
        incident,
        actor=actor,
        reason=f"{stage} time corrected",
        update_fields=changed,
    )
    timeline_record(
        incident,
        kind=Kind.STAGE_TIME_CORRECTED,
        actor=actor,
        source=source,
        text=f"{label} time corrected from {_moment(correction.previous)} to "
        f"{_moment(correction.corrected)}: {reason}",
        data={
            "stage": stage,
            "from": correction.previous.isoformat() if correction.previous else None,
            "to": correction.corrected.isoformat(),
            "reason": reason,
        },
        at=now,
    )
    return incident
