"""What the incident page shows, worked out from what the selectors loaded: the
lifecycle stepper, the durations with their definitions, the slice of the timeline
the reader has open, and the forms of the actions the reader may take. Views call
these and render; no writes here, and no request beyond the reader and their ask."""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from common.formatting import format_duration
from common.roles import can_drive_incidents
from incidents import lifecycle, selectors
from incidents.forms import (
    CloseForm,
    DecisionForm,
    NoteForm,
    RoleAssignForm,
    StageMoveForm,
    StageTimeCorrectForm,
)
from incidents.lifecycle import DURATION_DEFINITIONS, Stage
from incidents.models import FailurePattern, Incident

TIMELINE_PAGE = 50
TIMELINE_MAX = 1000


@dataclass(frozen=True)
class Step:
    stage: str
    label: str
    help: str
    state: str  # "reached", "current", "skipped" or "pending"
    at: datetime | None
    by: object
    corrected: bool = False


def steps(incident: Incident, *, corrected: set[str] = frozenset()) -> list[Step]:
    current = lifecycle.index(incident.stage)
    shown = []
    for position, stage in enumerate(lifecycle.ORDER):
        at_field, by_field = lifecycle.STAGE_FIELDS[stage]
        at = getattr(incident, at_field)
        if position == current:
            state = "current"
        elif position < current:
            state = "reached" if at else "skipped"
        else:
            state = "pending"
        shown.append(
            Step(
                stage=stage,
                label=Stage(stage).label,
                help=lifecycle.STAGE_HELP[stage],
                state=state,
                at=at,
                by=getattr(incident, by_field),
                corrected=stage in corrected,
            )
        )
    return shown


@dataclass(frozen=True)
class Duration:
    label: str
    seconds: int | None
    text: str
    definition: str


def durations(incident: Incident) -> tuple[list[Duration], str]:
    """The figures with their definitions, and why they are not measured (or "")."""
    measured = selectors.incident_durations(incident, now=timezone.now())
    labelled = [
        ("Time to detect", "time_to_detect", measured.time_to_detect),
        ("Time to propagate", "time_to_propagate", measured.time_to_propagate),
        ("Time to decide", "time_to_decide", measured.time_to_decide),
        ("Time to recover", "time_to_recover", measured.time_to_recover),
        ("Open for" if incident.is_open else "Was open for", "open_for", measured.open_for),
    ]
    if measured.not_measured:
        labelled = labelled[-1:]
    figures = [
        Duration(label, None, "—", DURATION_DEFINITIONS[key])
        if delta is None
        else Duration(
            label, int(delta.total_seconds()), format_duration(delta), DURATION_DEFINITIONS[key]
        )
        for label, key, delta in labelled
    ]
    return figures, measured.not_measured


def failure_pattern_labels(incident: Incident) -> list[str]:
    labels = dict(FailurePattern.choices)
    return [labels.get(pattern, pattern) for pattern in incident.failure_patterns]


def events_shown(asked: int) -> int:
    """How many timeline events the page shows: the latest ``TIMELINE_PAGE``, or as
    many as the reader had loaded ("Show older"; live.js and the actions ask for as
    many again, ``shown``), never more than ``TIMELINE_MAX``."""
    return min(max(asked, TIMELINE_PAGE), TIMELINE_MAX)


def timeline_context(page: selectors.TimelinePage, *, shown_before: int) -> dict:
    shown = shown_before + len(page.events)
    return {
        "timeline": page.events,
        "timeline_page": page,
        "timeline_shown": shown,
        "timeline_more": min(shown + TIMELINE_PAGE, TIMELINE_MAX),
    }


def stage_move_form(incident: Incident, data=None) -> StageMoveForm:
    """The Move stage form: the stages the incident may move to from where it is."""
    return StageMoveForm(
        data,
        current=incident.stage,
        allowed_targets=lifecycle.allowed_targets(
            current=incident.stage, closed=not incident.is_open
        ),
    )


def incident_page(*, user, pk: int, shown: int) -> tuple[Incident, selectors.TimelinePage]:
    """The incident (``Incident.DoesNotExist`` when ``user`` may not see it) and the
    timeline events its page shows (``shown``: how many the reader asked for)."""
    # Newest first: during an incident the latest event matters most; older ones
    # are loaded on demand (``timeline_older``), so a long incident's page stays small.
    return selectors.incident_page(user=user, pk=pk, events=events_shown(shown))


def incident_page_context(
    *, incident: Incident, timeline: selectors.TimelinePage, user, bound_forms: dict
) -> dict:
    """Everything the incident page (or its live region) renders: ``incident`` and
    ``timeline`` from ``incident_page``; ``bound_forms``: the posted forms with errors."""
    figures, not_measured = durations(incident)
    context = {
        "incident": incident,
        "steps": steps(incident, corrected=selectors.stages_time_corrected(incident=incident)),
        "durations": figures,
        "not_measured": not_measured,
        "failure_patterns": failure_pattern_labels(incident),
        **timeline_context(timeline, shown_before=0),
        "can_edit_notes": can_drive_incidents(user),
    }
    if not can_drive_incidents(user):
        return context
    # The rarely used forms (decision, close, correct a time, assign a role) are not on
    # the page: their disclosures fetch them (``action_form_context``). They are here
    # only as posted with errors, in ``bound_forms``.
    context.update(note_form=NoteForm(), may_decide=incident.is_open, may_close=incident.is_open)
    if incident.is_open:
        context["move_form"] = stage_move_form(incident)
    if "close_form" in bound_forms:
        context["closing_blockers"] = lifecycle.closing_blockers(incident)
    context.update(bound_forms)
    return context


# The forms fetched on demand: their template and their page's title.
ACTION_FORMS = {
    "decision": ("incidents/partials/decision_form.html", "Record a decision"),
    "close": ("incidents/partials/close_form.html", "Close the incident"),
    "correct": ("incidents/partials/correct_form.html", "Correct a stage time"),
    "role": ("incidents/partials/role_form.html", "Assign a role"),
}


def action_form_context(incident: Incident, action: str) -> dict:
    """The unbound form of one of the incident page's rarely used actions, with what
    its template shows beside it (the closing rules not yet met, for the close form)."""
    if action == "decision":
        return {"decision_form": DecisionForm(decisions=incident.decisions.all())}
    if action == "close":
        blockers = lifecycle.closing_blockers(incident)
        return {"close_form": CloseForm(resolvable=not blockers), "closing_blockers": blockers}
    if action == "correct":
        return {"correct_form": StageTimeCorrectForm(incident=incident)}
    return {"role_form": RoleAssignForm()}
