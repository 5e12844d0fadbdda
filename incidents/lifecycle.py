"""The incident lifecycle: one transition table, pure functions, no database.

detect → propagate → judge → recover → analyze → share → retrospect

* Forward moves may skip stages; the skipped ones are named on the timeline.
* The only backward move is *reopen*: recover → judge, when the fix regressed.
* A closed incident does not move. Closing *resolved* happens in retrospect,
  when the severity's closing rules hold (see ``closing_blockers``); the other
  outcomes (false alarm, duplicate, declined) close from any stage, with a reason,
  and leave the lifecycle metrics (``counts_in_metrics``).
* A reached or skipped stage's time can be *corrected* (``plan_correction``), with
  a reason: a wrong skip gets the time the stage was really reached, so the metric
  that ends there is measured.

``incidents.services.incident_move`` is the only writer; the UI, the API, Slack
and alerts all call it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from django.db import models

from common.exceptions import Conflict, InvalidInput
from common.transitions import Transitions


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

# The transition table: every later stage (forward, skipping the ones between), and
# from recover also back to judge (reopen).
MOVES = Transitions(
    {
        stage: [*([REOPEN_TO] if stage == REOPEN_FROM else []), *ORDER[i + 1 :]]
        for i, stage in enumerate(ORDER)
    }
)


class MoveKind(StrEnum):
    FORWARD = "forward"
    SKIP = "skip"
    REOPEN = "reopen"


class IllegalStageMove(Conflict):
    code = "illegal_stage_move"


class CannotClose(Conflict):
    code = "cannot_close"


class IllegalCorrection(InvalidInput):
    code = "illegal_correction"


class Outcome(models.TextChoices):
    """How an incident ended. Only *resolved* incidents count in the lifecycle metrics."""

    RESOLVED = "resolved", "Resolved"
    FALSE_ALARM = "false_alarm", "False alarm"
    DUPLICATE = "duplicate", "Duplicate"
    DECLINED = "declined", "Declined"


OUTCOME_HELP: dict[str, str] = {
    Outcome.RESOLVED: "Worked through to retrospect; closes when the severity's rules hold.",
    Outcome.FALSE_ALARM: "There was no incident (a flapping alert, a misread graph).",
    Outcome.DUPLICATE: "Another incident already tracks this; the work continues there.",
    Outcome.DECLINED: "Real, but not handled as an incident (expected behaviour, out of scope).",
}


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
    MOVES.require(
        current,
        target,
        lambda: IllegalStageMove(
            f"Cannot move back from {current} to {target}: the only backward move is "
            f"reopen ({REOPEN_FROM} → {REOPEN_TO}) when a recovery regresses."
        ),
    )
    if index(target) < index(current):
        return Move(current, target, MoveKind.REOPEN)
    skipped = tuple(ORDER[index(current) + 1 : index(target)])
    return Move(current, target, MoveKind.SKIP if skipped else MoveKind.FORWARD, skipped)


def allowed_targets(*, current: str, closed: bool) -> list[str]:
    """Every stage ``plan_move`` would accept from ``current``."""
    return [] if closed else MOVES.targets(current)


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


def counts_in_metrics(incident) -> bool:
    """Open incidents and resolved ones are measured; false alarms, duplicates and
    declined incidents are left out of durations, gauges and reports."""
    return incident.closed_at is None or incident.outcome == Outcome.RESOLVED


def closing_blockers(incident, *, outcome: str = Outcome.RESOLVED) -> list[str]:
    """Why this incident cannot close yet with ``outcome``; an empty list means it can.

    Only *resolved* has rules (retrospect, the severity's postmortem, the registered
    checks); the other outcomes close from any stage."""
    reasons = []
    if incident.closed_at is not None:
        return ["The incident is already closed."]
    if outcome != Outcome.RESOLVED:
        return []
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
class Correction:
    stage: str
    previous: datetime | None  # None: the stage was skipped
    corrected: datetime


def _label(stage: str) -> str:
    return Stage(stage).label


def _moment(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def plan_correction(
    *,
    times: dict[str, datetime | None],
    started_at: datetime,
    current: str,
    stage: str,
    at: datetime,
    now: datetime,
) -> Correction:
    """Check a correction of ``stage``'s time to ``at``, or raise ``IllegalCorrection``.

    ``times`` maps every stage to its recorded time (None: skipped or not reached).
    Only stages up to the current one can be corrected (a later one has not happened);
    no time may be in the future. Every duration is measured from detection, so a
    stage cannot be before detection and detection not before impact began nor after
    any later stage. Later stages may carry earlier times than the stages before them
    (service restored before the judge stage was clicked): that is what happened.
    """
    if stage not in ORDER:
        raise IllegalCorrection(
            f"'{stage}' is not a stage; stages are {', '.join(ORDER)}.", field="stage"
        )
    if index(stage) > index(current):
        raise IllegalCorrection(
            f"{_label(stage)} has not been reached yet (the incident is in "
            f"{_label(current)}); move the incident there instead.",
            field="stage",
        )
    if at > now:
        raise IllegalCorrection("A stage cannot be reached in the future.", field="at")
    previous = times.get(stage)
    if previous == at:
        raise IllegalCorrection(f"{_label(stage)} already has this time.", field="at")
    if stage == Stage.DETECT:
        if at < started_at:
            raise IllegalCorrection(
                f"Detection cannot be before impact started ({_moment(started_at)}); "
                "edit the impact start first.",
                field="at",
            )
        for later in ORDER[1 : index(current) + 1]:
            if times.get(later) is not None and at > times[later]:
                raise IllegalCorrection(
                    f"Detection cannot be after {_label(later)} ({_moment(times[later])}).",
                    field="at",
                )
    elif at < times[Stage.DETECT]:
        raise IllegalCorrection(
            f"{_label(stage)} cannot be before detection ({_moment(times[Stage.DETECT])}): "
            "every duration is measured from detection.",
            field="at",
        )
    return Correction(stage=stage, previous=previous, corrected=at)


@dataclass(frozen=True)
class Durations:
    time_to_detect: timedelta | None
    time_to_propagate: timedelta | None
    time_to_decide: timedelta | None
    time_to_recover: timedelta | None
    open_for: timedelta | None
    # Why the lifecycle figures are not measured (a false alarm, a duplicate, ...), or "".
    not_measured: str = ""


def _between(start: datetime | None, end: datetime | None) -> timedelta | None:
    if start is None or end is None:
        return None
    return max(end - start, timedelta(0))


DURATION_DEFINITIONS: dict[str, str] = {
    "time_to_detect": "From impact start to detection.",
    "time_to_propagate": "From detection to reaching Propagate.",
    "time_to_decide": "From detection to the first decision, or to reaching Judge "
    "if that came first.",
    "time_to_recover": "From detection to reaching Recover (service restored).",
    "open_for": "From detection to closing (or now).",
}


def _earliest(*moments: datetime | None) -> datetime | None:
    known = [moment for moment in moments if moment is not None]
    return min(known) if known else None


def durations(incident, *, now: datetime, first_decision_at: datetime | None) -> Durations:
    """Derived metrics; each ends at the stage that owns it (DESIGN: the lifecycle table).

    time to detect = detected - started; propagate and recover are measured from
    detection to reaching propagate and recover; time to decide from detection to
    the first decision or to reaching judge, whichever is first. An incident that
    does not count in the metrics (``counts_in_metrics``) has only ``open_for``.
    """
    end = incident.closed_at or now
    open_for = _between(incident.detected_at, end)
    if not counts_in_metrics(incident):
        label = Outcome(incident.outcome).label.lower()
        return Durations(None, None, None, None, open_for, not_measured=f"closed as {label}")
    return Durations(
        time_to_detect=_between(incident.started_at, incident.detected_at),
        time_to_propagate=_between(incident.detected_at, incident.propagated_at),
        time_to_decide=_between(
            incident.detected_at, _earliest(first_decision_at, incident.judged_at)
        ),
        time_to_recover=_between(incident.detected_at, incident.recovered_at),
        open_for=open_for,
    )
