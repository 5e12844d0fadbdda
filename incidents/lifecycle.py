"""The incident lifecycle: one transition table, pure functions, no database.

detect → propagate → judge → recover → analyze → share → retrospect

* Forward moves may skip stages; the skipped ones are named on the timeline.
* The only backward move is *reopen*: recover → judge, when the fix regressed.
* A closed incident does not move. Closing happens in retrospect, when the
  severity's closing rules hold (see ``closing_blockers``).

``incidents.services.incident_move`` is the only writer; the UI, the API, Slack
and alerts all call it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.db import models

from common.exceptions import Conflict


class Stage(models.TextChoices):
    DETECT = "detect", "Detect"
    PROPAGATE = "propagate", "Propagate"
    JUDGE = "judge", "Judge"
    RECOVER = "recover", "Recover"
    ANALYZE = "analyze", "Analyze"
    SHARE = "share", "Share"
    RETROSPECT = "retrospect", "Retrospect"


ORDER: list[str] = [stage.value for stage in Stage]

# Which timestamp/actor field pair records reaching each stage.
STAGE_FIELDS: dict[str, tuple[str, str]] = {
    Stage.DETECT: ("detected_at", "detected_by"),
    Stage.PROPAGATE: ("propagated_at", "propagated_by"),
    Stage.JUDGE: ("judged_at", "judged_by"),
    Stage.RECOVER: ("recovered_at", "recovered_by"),
    Stage.ANALYZE: ("analyzed_at", "analyzed_by"),
    Stage.SHARE: ("shared_at", "shared_by"),
    Stage.RETROSPECT: ("retrospected_at", "retrospected_by"),
}

STAGE_HELP: dict[str, str] = {
    Stage.DETECT: "The incident exists: impact noticed and declared.",
    Stage.PROPAGATE: "Responders, CS, business and the public are told.",
    Stage.JUDGE: "Severity, scope and impact assessed; the response decided.",
    Stage.RECOVER: "Mitigation applied (a temporary fix counts); service restored.",
    Stage.ANALYZE: "Root cause analysis written.",
    Stage.SHARE: "Postmortem published; customer summary on the status page.",
    Stage.RETROSPECT: "Retro held; action items owned and tracked.",
}

REOPEN_FROM = Stage.RECOVER
REOPEN_TO = Stage.JUDGE


class MoveKind(StrEnum):
    FORWARD = "forward"
    SKIP = "skip"
    REOPEN = "reopen"


class IllegalStageMove(Conflict):
    code = "illegal_stage_move"


class CannotClose(Conflict):
    code = "cannot_close"


@dataclass(frozen=True)
class Move:
    source: str
    target: str
    kind: MoveKind
    skipped: tuple[str, ...] = ()


def index(stage: str) -> int:
    return ORDER.index(stage)


def plan_move(*, current: str, target: str, closed: bool) -> Move:
    """Classify a move or raise ``IllegalStageMove`` with the reason."""
    if target not in ORDER:
        raise IllegalStageMove(
            f"'{target}' is not a stage; stages are {', '.join(ORDER)}.", field="stage"
        )
    if closed:
        raise IllegalStageMove("The incident is closed; closed incidents do not move.")
    if target == current:
        raise IllegalStageMove(f"The incident is already in {current}.")
    if index(target) > index(current):
        skipped = tuple(ORDER[index(current) + 1 : index(target)])
        return Move(current, target, MoveKind.SKIP if skipped else MoveKind.FORWARD, skipped)
    if current == REOPEN_FROM and target == REOPEN_TO:
        return Move(current, target, MoveKind.REOPEN)
    raise IllegalStageMove(
        f"Cannot move back from {current} to {target}: the only backward move is "
        f"reopen ({REOPEN_FROM} → {REOPEN_TO}) when a recovery regresses."
    )


def allowed_targets(*, current: str, closed: bool) -> list[str]:
    """Every stage ``plan_move`` would accept from ``current``."""
    if closed:
        return []
    targets = ORDER[index(current) + 1 :]
    if current == REOPEN_FROM:
        targets = [REOPEN_TO, *targets]
    return targets


# Closing rules. Each check takes the incident and returns a reason it cannot
# close, or None. Apps that own the facts register checks (postmortems: "a
# published postmortem is required for this severity").
ClosingCheck = Callable[[object], str | None]
_closing_checks: list[ClosingCheck] = []


def register_closing_check(check: ClosingCheck) -> None:
    if check not in _closing_checks:
        _closing_checks.append(check)


def _no_postmortem_published(incident) -> bool:
    """Until the postmortems app answers, no postmortem counts as published."""
    return False


_postmortem_check: Callable[[object], bool] = _no_postmortem_published


def set_postmortem_check(check: Callable[[object], bool]) -> None:
    """Let the postmortems app answer "is a postmortem published for this incident?"."""
    global _postmortem_check
    _postmortem_check = check


def closing_blockers(incident) -> list[str]:
    """Why this incident cannot close yet; an empty list means it can."""
    reasons = []
    if incident.closed_at is not None:
        return ["The incident is already closed."]
    if incident.stage != Stage.RETROSPECT:
        reasons.append("An incident closes from retrospect; move it there first.")
    severity = incident.severity
    if severity.postmortem_required and not _postmortem_check(incident):
        reasons.append(f"{severity.code} requires a published postmortem before closing.")
    for check in _closing_checks:
        reason = check(incident)
        if reason:
            reasons.append(reason)
    return reasons


@dataclass(frozen=True)
class Durations:
    time_to_detect: timedelta | None
    time_to_propagate: timedelta | None
    time_to_decide: timedelta | None
    time_to_recover: timedelta | None
    open_for: timedelta | None


def _between(start: datetime | None, end: datetime | None) -> timedelta | None:
    if start is None or end is None:
        return None
    return max(end - start, timedelta(0))


def durations(incident, *, now: datetime) -> Durations:
    """Derived metrics; each ends at the stage that owns it (DESIGN: the lifecycle table).

    time to detect = detected - started; propagate, decide and recover are
    measured from detection to reaching propagate, judge and recover.
    """
    end = incident.closed_at or now
    return Durations(
        time_to_detect=_between(incident.started_at, incident.detected_at),
        time_to_propagate=_between(incident.detected_at, incident.propagated_at),
        time_to_decide=_between(incident.detected_at, incident.judged_at),
        time_to_recover=_between(incident.detected_at, incident.recovered_at),
        open_for=_between(incident.detected_at, end),
    )
