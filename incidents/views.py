"""Server-rendered pages, progressively enhanced with HTMX.

Thin: validate (a form) → one service call → render or redirect. Without
JavaScript every action posts and redirects back (POST/redirect/GET) with a
message; with HTMX it gets the incident's live region (header, stepper, actions,
timeline) back instead. A domain error is shown next to its field with the
error's own status (409 for an illegal move), never a 500.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common import keyset
from common.access import driver_required
from common.exceptions import ApplicationError
from common.formatting import format_duration
from common.roles import can_drive_incidents
from incidents import history, lifecycle, selectors, services
from incidents.forms import (
    CloseForm,
    DecisionForm,
    IncidentDeclareForm,
    IncidentEditForm,
    IncidentFilterForm,
    NoteEditForm,
    NoteForm,
    NoteStrikeForm,
    ResponderRemoveForm,
    RoleAssignForm,
    StageMoveForm,
    StageTimeCorrectForm,
    add_application_error,
)
from incidents.lifecycle import DURATION_DEFINITIONS, Outcome, Stage
from incidents.models import FailurePattern, Incident, TimelineEvent

WEB = TimelineEvent.Source.WEB
PAGE_SIZE = 50
TIMELINE_PAGE = 50
TIMELINE_MAX = 1000
LIVE_REGION = "incidents/partials/incident_live.html"


def _visible_incident(request: HttpRequest, pk: int) -> Incident:
    """The incident with everything its page shows; 404 when the user may not see it."""
    try:
        return selectors.incident_detail(user=request.user, pk=pk)
    except Incident.DoesNotExist as exc:
        raise Http404("No such incident.") from exc


@dataclass(frozen=True)
class Step:
    stage: str
    label: str
    help: str
    state: str  # "reached", "current", "skipped" or "pending"
    at: datetime | None
    by: object
    corrected: bool = False


def _steps(incident: Incident, *, corrected: set[str] = frozenset()) -> list[Step]:
    current = lifecycle.index(incident.stage)
    steps = []
    for position, stage in enumerate(lifecycle.ORDER):
        at_field, by_field = lifecycle.STAGE_FIELDS[stage]
        at = getattr(incident, at_field)
        if position == current:
            state = "current"
        elif position < current:
            state = "reached" if at else "skipped"
        else:
            state = "pending"
        steps.append(
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
    return steps


@dataclass(frozen=True)
class Duration:
    label: str
    seconds: int | None
    text: str
    definition: str


def _durations(incident: Incident) -> tuple[list[Duration], str]:
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


def _failure_pattern_labels(incident: Incident) -> list[str]:
    labels = dict(FailurePattern.choices)
    return [labels.get(pattern, pattern) for pattern in incident.failure_patterns]


def _shown(request: HttpRequest) -> int:
    asked = request.POST.get("shown") or request.GET.get("shown") or ""
    return int(asked) if asked.isascii() and asked.isdigit() and len(asked) < 6 else 0


def _events_shown(request: HttpRequest) -> int:
    """How many timeline events the page shows: the latest ``TIMELINE_PAGE``, or as
    many as the reader had loaded ("Show older"; live.js and the actions ask for as
    many again, ``shown``), never more than ``TIMELINE_MAX``."""
    return min(max(_shown(request), TIMELINE_PAGE), TIMELINE_MAX)


def _timeline_context(page: selectors.TimelinePage, *, shown_before: int) -> dict:
    shown = shown_before + len(page.events)
    return {
        "timeline": page.events,
        "timeline_page": page,
        "timeline_shown": shown,
        "timeline_more": min(shown + TIMELINE_PAGE, TIMELINE_MAX),
    }


def _incident_context(request: HttpRequest, incident: Incident, bound_forms: dict) -> dict:
    # Newest first: during an incident the latest event matters most; older ones
    # are loaded on demand (``timeline_older``), so a long incident's page stays small.
    timeline = selectors.timeline_latest(incident=incident, limit=_events_shown(request))
    durations, not_measured = _durations(incident)
    context = {
        "incident": incident,
        "steps": _steps(incident, corrected=selectors.stages_time_corrected(incident=incident)),
        "durations": durations,
        "not_measured": not_measured,
        "failure_patterns": _failure_pattern_labels(incident),
        **_timeline_context(timeline, shown_before=0),
        "can_edit_notes": can_drive_incidents(request.user),
    }
    if not can_drive_incidents(request.user):
        return context
    context.update(
        note_form=NoteForm(),
        role_form=RoleAssignForm(),
        correct_form=StageTimeCorrectForm(incident=incident),
    )
    if incident.is_open:
        blockers = lifecycle.closing_blockers(incident)
        context.update(
            decision_form=DecisionForm(decisions=incident.decisions.all()),
            move_form=StageMoveForm(
                current=incident.stage,
                allowed_targets=lifecycle.allowed_targets(current=incident.stage, closed=False),
            ),
            close_form=CloseForm(resolvable=not blockers),
            closing_blockers=blockers,
        )
    context.update(bound_forms)
    return context


def _render_incident(
    request: HttpRequest, pk: int, *, status: int = 200, notice: str = "", **bound_forms
) -> HttpResponse:
    """The incident page, or only its live region for HTMX; ``bound_forms`` carry errors."""
    incident = _visible_incident(request, pk)
    context = _incident_context(request, incident, bound_forms)
    context["notice"] = notice
    template = LIVE_REGION if request.htmx else "incidents/detail.html"
    return render(request, template, context, status=status)


def _act(
    request: HttpRequest,
    pk: int,
    *,
    form,
    form_name: str,
    perform: Callable[[dict], str],
    event_id: int | None = None,
) -> HttpResponse:
    """Validate ``form``, run ``perform`` (one service call returning what it did),
    then answer: the live region for HTMX, otherwise a redirect back with a message.
    ``event_id``: the timeline event a per-event form (edit, strike) belongs to."""
    bound = {form_name: form, **({"form_event_id": event_id} if event_id else {})}
    if not form.is_valid():
        return _render_incident(request, pk, status=400, **bound)
    try:
        done = perform(form.cleaned_data)
    except ApplicationError as error:
        add_application_error(form, error)
        return _render_incident(request, pk, status=error.status_code, **bound)
    if request.htmx:
        return _render_incident(request, pk, notice=done)
    messages.success(request, done)
    return redirect("incidents:detail", pk=pk)


def _incident_for_action(request: HttpRequest, pk: int) -> Incident:
    return get_object_or_404(selectors.incidents_visible_to(request.user), pk=pk)


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Where signing in lands: responders on the incidents, CS (viewers) on their desk."""
    return redirect("incidents:list" if can_drive_incidents(request.user) else "cs-brief")


@login_required
@require_GET
def incident_list(request: HttpRequest) -> HttpResponse:
    form = IncidentFilterForm(request.GET)
    valid = form.is_valid()
    incidents = selectors.incident_list(user=request.user, filters=form.filters())
    try:
        page = keyset.paginate(
            incidents,
            name="incidents",
            keys=selectors.INCIDENT_LIST_ORDER,
            size=PAGE_SIZE,
            load=selectors.incident_list_rows,
            cursor=request.GET.get("cursor"),
            page=request.GET.get("page"),
            clamp_pages=True,
        )
    except keyset.InvalidCursor as error:
        # An old or mangled link: the first page, with the reason next to the list.
        messages.warning(request, error.message)
        return redirect(keyset.first_page_url(request))
    return render(
        request,
        "incidents/list.html",
        {"form": form, "page": page},
        status=200 if valid else 400,
    )


@driver_required
@require_http_methods(["GET", "POST"])
def incident_declare(request: HttpRequest) -> HttpResponse:
    form = IncidentDeclareForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                incident = services.incident_declare(
                    actor=request.user, source=WEB, **form.cleaned_data
                )
            except ApplicationError as error:
                add_application_error(form, error)
                status = error.status_code
            else:
                messages.success(request, f"Incident #{incident.pk} declared.")
                return redirect("incidents:detail", pk=incident.pk)
    return render(request, "incidents/declare.html", {"form": form}, status=status)


@login_required
@require_GET
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_incident(request, pk)


@login_required
@require_GET
def timeline_older(request: HttpRequest, pk: int) -> HttpResponse:
    """The ``TIMELINE_PAGE`` events before ``?before=`` (an event id), newest first:
    the fragment "Show older" appends to the incident page's timeline."""
    incident = get_object_or_404(selectors.incidents_visible_to(request.user), pk=pk)
    before = request.GET.get("before", "")
    if not (before.isascii() and before.isdigit() and len(before) < 19):
        return HttpResponse("Which event? Give ?before=<event id>.", status=400)
    page = selectors.timeline_latest(incident=incident, limit=TIMELINE_PAGE, before=int(before))
    context = {
        "incident": incident,
        **_timeline_context(page, shown_before=_shown(request)),
        "can_edit_notes": can_drive_incidents(request.user),
    }
    return render(request, "incidents/partials/timeline_events.html", context)


@login_required
@require_GET
def incident_history(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _visible_incident(request, pk)
    entries = history.incident_history(incident=incident)
    return render(request, "incidents/history.html", {"incident": incident, "entries": entries})


@driver_required
@require_http_methods(["GET", "POST"])
def incident_edit(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _visible_incident(request, pk)
    form = IncidentEditForm(request.POST or None, instance=incident)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.incident_update(
                    incident=incident, actor=request.user, data=form.changes(), source=WEB
                )
            except ApplicationError as error:
                add_application_error(form, error)
                status = error.status_code
            else:
                messages.success(request, "Saved." if form.has_changed() else "Nothing changed.")
                return redirect("incidents:detail", pk=pk)
    return render(
        request, "incidents/edit.html", {"incident": incident, "form": form}, status=status
    )


@driver_required
@require_POST
def note_add(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident_for_action(request, pk)

    def perform(data: dict) -> str:
        services.note_add(incident=incident, text=data["text"], actor=request.user, source=WEB)
        return "Note added."

    return _act(request, pk, form=NoteForm(request.POST), form_name="note_form", perform=perform)


@driver_required
@require_POST
def decision_record(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident_for_action(request, pk)

    form = DecisionForm(request.POST, decisions=incident.decisions.all())

    def perform(data: dict) -> str:
        decision = services.decision_record(
            incident=incident, actor=request.user, source=WEB, **form.service_arguments()
        )
        return f"Decision recorded: {decision.chosen}."

    return _act(request, pk, form=form, form_name="decision_form", perform=perform)


@driver_required
@require_POST
def stage_move(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident_for_action(request, pk)
    form = StageMoveForm(
        request.POST,
        current=incident.stage,
        allowed_targets=lifecycle.allowed_targets(
            current=incident.stage, closed=not incident.is_open
        ),
    )

    def perform(data: dict) -> str:
        services.incident_move(
            incident=incident, to=data["stage"], note=data["note"], actor=request.user, source=WEB
        )
        return f"Moved to {Stage(data['stage']).label}."

    return _act(request, pk, form=form, form_name="move_form", perform=perform)


@driver_required
@require_POST
def incident_close(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident_for_action(request, pk)

    def perform(data: dict) -> str:
        closed = services.incident_close(incident=incident, actor=request.user, source=WEB, **data)
        if closed.outcome == Outcome.DUPLICATE:
            return f"Incident closed as a duplicate of #{closed.duplicate_of_id}."
        if closed.outcome == Outcome.RESOLVED:
            return "Incident closed."
        return f"Incident closed as {closed.get_outcome_display().lower()}."

    form = CloseForm(request.POST, resolvable=not lifecycle.closing_blockers(incident))
    return _act(request, pk, form=form, form_name="close_form", perform=perform)


@driver_required
@require_POST
def stage_time_correct(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident_for_action(request, pk)

    def perform(data: dict) -> str:
        services.incident_stage_time_correct(
            incident=incident, actor=request.user, source=WEB, **data
        )
        return f"{Stage(data['stage']).label} time corrected."

    form = StageTimeCorrectForm(request.POST, incident=incident)
    return _act(request, pk, form=form, form_name="correct_form", perform=perform)


def _note_for_action(request: HttpRequest, pk: int, event_id: int) -> TimelineEvent:
    incident = _incident_for_action(request, pk)
    return get_object_or_404(TimelineEvent, pk=event_id, incident=incident)


@driver_required
@require_POST
def note_edit(request: HttpRequest, pk: int, event_id: int) -> HttpResponse:
    note = _note_for_action(request, pk, event_id)

    def perform(data: dict) -> str:
        services.note_edit(event=note, text=data["text"], actor=request.user, source=WEB)
        return "Note edited; the earlier text is in the history."

    form = NoteEditForm(request.POST, prefix=f"edit-{note.pk}")
    return _act(
        request, pk, form=form, form_name="note_edit_form", perform=perform, event_id=note.pk
    )


@driver_required
@require_POST
def note_strike(request: HttpRequest, pk: int, event_id: int) -> HttpResponse:
    note = _note_for_action(request, pk, event_id)

    def perform(data: dict) -> str:
        services.note_strike(event=note, reason=data["reason"], actor=request.user, source=WEB)
        return "Note struck through."

    form = NoteStrikeForm(request.POST, prefix=f"strike-{note.pk}")
    return _act(
        request, pk, form=form, form_name="note_strike_form", perform=perform, event_id=note.pk
    )


@driver_required
@require_POST
def role_assign(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident_for_action(request, pk)

    def perform(data: dict) -> str:
        services.incident_assign_role(
            incident=incident, role=data["role"], user=data["user"], actor=request.user, source=WEB
        )
        return f"{data['user'].get_username()} assigned."

    return _act(
        request, pk, form=RoleAssignForm(request.POST), form_name="role_form", perform=perform
    )


@driver_required
@require_POST
def responder_remove(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident_for_action(request, pk)

    def perform(data: dict) -> str:
        services.incident_remove_responder(
            incident=incident, user=data["user"], actor=request.user, source=WEB
        )
        return f"{data['user'].get_username()} is no longer a responder."

    return _act(
        request,
        pk,
        form=ResponderRemoveForm(request.POST),
        form_name="remove_form",
        perform=perform,
    )
