"""Server-rendered pages, progressively enhanced with HTMX.

Thin: validate (a form) → one service call → render or redirect. Without
JavaScript every action posts and redirects back (POST/redirect/GET) with a
message; with HTMX it gets the incident's live region (header, stepper, actions,
timeline) back instead. A domain error is shown next to its field with the
error's own status (409 for an illegal move), never a 500.
"""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common import forward_page, keyset
from common.access import driver_required
from common.exceptions import ApplicationError
from common.roles import can_drive_incidents
from common.view_actions import form_errors_from, form_page
from incidents import history, lifecycle, presenters, selectors, services
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
    StageTimeCorrectForm,
)
from incidents.history_html import history_rows
from incidents.lifecycle import Outcome, Stage
from incidents.models import Incident, TimelineEvent
from incidents.presenters import TIMELINE_PAGE
from incidents.visibility import can_see

WEB = TimelineEvent.Source.WEB
PAGE_SIZE = 50
LIVE_REGION = "incidents/partials/incident_live.html"
BAD_CURSOR = (
    "This link's cursor is not valid (cut short, edited, or from another list): this is {where}."
)


def _visible_incident(request: HttpRequest, pk: int) -> Incident:
    """The incident with everything its page shows; 404 when the user may not see it."""
    try:
        return selectors.incident_detail(user=request.user, pk=pk)
    except Incident.DoesNotExist as exc:
        raise Http404("No such incident.") from exc


def _shown(request: HttpRequest) -> int:
    asked = request.POST.get("shown") or request.GET.get("shown") or ""
    return int(asked) if asked.isascii() and asked.isdigit() and len(asked) < 6 else 0


def _render_incident(
    request: HttpRequest, pk: int, *, status: int = 200, notice: str = "", **bound_forms
) -> HttpResponse:
    """The incident page, or only its live region for HTMX; ``bound_forms`` carry errors."""
    try:
        incident, timeline = presenters.incident_page(
            user=request.user, pk=pk, shown=_shown(request)
        )
    except Incident.DoesNotExist as exc:
        raise Http404("No such incident.") from exc
    context = presenters.incident_page_context(
        incident=incident, timeline=timeline, user=request.user, bound_forms=bound_forms
    )
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
        form_errors_from(form, error)
        return _render_incident(request, pk, status=error.status_code, **bound)
    if request.htmx:
        return _render_incident(request, pk, notice=done)
    messages.success(request, done)
    return redirect("incidents:detail", pk=pk)


def _incident_for_action(request: HttpRequest, pk: int) -> Incident:
    return get_object_or_404(selectors.incidents_visible_to(request.user), pk=pk)


def _action_form(request: HttpRequest, incident: Incident, action: str) -> HttpResponse:
    """GET of a rarely used action (``presenters.ACTION_FORMS``): its form alone for
    HTMX (the incident page's disclosure asked for it when opened), else a page with
    it that posts without JavaScript and comes back to the incident."""
    template, title = presenters.ACTION_FORMS[action]
    context = {"incident": incident, **presenters.action_form_context(incident, action)}
    if request.htmx:
        return render(request, template, {**context, "in_page": True})
    return render(
        request,
        "incidents/action_form.html",
        {**context, "form_template": template, "title": title},
    )


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
    try:
        page = _list_page(request, filters=form.filters())
    except keyset.InvalidCursor as error:
        # An old or mangled link: the first page, with the reason next to the list.
        messages.warning(request, error.message)
        return redirect(keyset.first_page_url(request))
    context = {"form": form, "page": page, "rows": page.rows}
    return render(request, "incidents/list.html", context, status=200 if valid else 400)


def _list_page(request: HttpRequest, *, filters: dict) -> keyset.Page:
    """The page of the list the request asks for (``?cursor=`` or ``?page=``, a page
    past the end shows the last), in the list's order."""
    return keyset.paginate(
        selectors.incident_list(user=request.user, filters=filters),
        name="incidents",
        keys=selectors.INCIDENT_LIST_ORDER,
        size=PAGE_SIZE,
        load=selectors.incident_list_rows,
        cursor=request.GET.get("cursor"),
        page=request.GET.get("page"),
        clamp_pages=True,
        narrow=selectors.incident_filters_narrow(filters),
        counted=selectors.incident_list_counted(user=request.user, filters=filters),
    )


@driver_required
@require_http_methods(["GET", "POST"])
def incident_declare(request: HttpRequest) -> HttpResponse:
    def declare(data: dict) -> HttpResponse:
        incident = services.incident_declare(actor=request.user, source=WEB, **data)
        messages.success(request, f"Incident #{incident.pk} declared.")
        return redirect("incidents:detail", pk=incident.pk)

    form = IncidentDeclareForm(request.POST or None)
    return form_page(request, form, save=declare, template="incidents/declare.html")


@login_required
@require_GET
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_incident(request, pk)


@login_required
@require_GET
def timeline_older(request: HttpRequest, pk: int) -> HttpResponse:
    """The ``TIMELINE_PAGE`` events before ``?before=`` (an event id), newest first:
    the fragment "Show older" appends to the incident page's timeline."""
    # The fragment names only the incident's id; the visibility rule is asked of the
    # row (no query for a public incident).
    incident = Incident.objects.filter(pk=pk).only("pk", "private").first()
    if incident is None or not can_see(request.user, incident):
        raise Http404("No such incident.")
    before = request.GET.get("before", "")
    if not (before.isascii() and before.isdigit() and len(before) < 19):
        return HttpResponse("Which event? Give ?before=<event id>.", status=400)
    page = selectors.timeline_latest(incident=incident, limit=TIMELINE_PAGE, before=int(before))
    context = {
        "incident": incident,
        **presenters.timeline_context(page, shown_before=_shown(request)),
        "can_edit_notes": can_drive_incidents(request.user),
    }
    return render(request, "incidents/partials/timeline_events.html", context)


@login_required
@require_GET
def incident_history(request: HttpRequest, pk: int) -> HttpResponse:
    """The audit trail, oldest first, ``history.PAGE_SIZE`` entries a page, continued
    by the API's cursor. A cursor that is not one (cut short, edited) is answered as
    the API answers it, 400, with the first page and a sentence saying why."""
    incident = _visible_incident(request, pk)
    cursor, start = forward_page.requested(request)
    status, notice = 200, ""
    try:
        after = history.history_after(cursor)
    except keyset.InvalidCursor:
        cursor, start, after = None, 1, None
        status, notice = 400, BAD_CURSOR.format(where="the start of the audit trail")
    page = history.history_page(incident=incident, size=history.PAGE_SIZE, after=after)
    position = forward_page.Position(
        url=reverse("incidents:history", args=[incident.pk]),
        cursor=cursor,
        start=start,
        shown=len(page.entries),
        size=history.PAGE_SIZE,
        next_cursor=None if page.next_after is None else history.history_cursor(page.next_after),
    )
    context = {
        "incident": incident,
        "entries": page.entries,
        "rows": history_rows(page.entries),
        "position": position,
        "notice": notice,
    }
    return render(request, "incidents/history.html", context, status=status)


@driver_required
@require_http_methods(["GET", "POST"])
def incident_edit(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _visible_incident(request, pk)
    form = IncidentEditForm(request.POST or None, instance=incident)

    def save(data: dict) -> HttpResponse:
        services.incident_update(
            incident=incident, actor=request.user, data=form.changes(), source=WEB
        )
        messages.success(request, "Saved." if form.has_changed() else "Nothing changed.")
        return redirect("incidents:detail", pk=pk)

    return form_page(
        request, form, save=save, template="incidents/edit.html", context={"incident": incident}
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
@require_http_methods(["GET", "POST"])
def decision_record(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the form (``_action_form``); POST: do it."""
    incident = _incident_for_action(request, pk)
    if request.method == "GET":
        return _action_form(request, incident, "decision")

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
    form = presenters.stage_move_form(incident, request.POST)

    def perform(data: dict) -> str:
        services.incident_move(
            incident=incident, to=data["stage"], note=data["note"], actor=request.user, source=WEB
        )
        return f"Moved to {Stage(data['stage']).label}."

    return _act(request, pk, form=form, form_name="move_form", perform=perform)


@driver_required
@require_http_methods(["GET", "POST"])
def incident_close(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the form (``_action_form``); POST: do it."""
    incident = _incident_for_action(request, pk)
    if request.method == "GET":
        return _action_form(request, incident, "close")

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
@require_http_methods(["GET", "POST"])
def stage_time_correct(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the form (``_action_form``); POST: do it."""
    incident = _incident_for_action(request, pk)
    if request.method == "GET":
        return _action_form(request, incident, "correct")

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


def _note_form(request: HttpRequest, note: TimelineEvent, action: str) -> HttpResponse:
    """GET of a note's edit or strike: the form alone for HTMX, else a page with it."""
    if note.kind != TimelineEvent.Kind.NOTE or note.struck_at:
        raise Http404(f"Only a note that is not struck through can be {action}.")
    name = "note_edit" if action == "edited" else "note_strike"
    template = f"incidents/partials/{name}.html" if request.htmx else f"incidents/{name}.html"
    return render(request, template, {"incident": note.incident, "note": note})


@driver_required
@require_http_methods(["GET", "POST"])
def note_edit(request: HttpRequest, pk: int, event_id: int) -> HttpResponse:
    """GET: the note's edit form — the form alone for HTMX (the page's Edit link swaps
    itself for it), else a page with it; POST: save the new text."""

    def edit(note, data: dict) -> str:
        services.note_edit(event=note, text=data["text"], actor=request.user, source=WEB)
        return "Note edited; the earlier text is in the history."

    return _note_action(request, pk, event_id, "edited", NoteEditForm, "edit", write=edit)


@driver_required
@require_http_methods(["GET", "POST"])
def note_strike(request: HttpRequest, pk: int, event_id: int) -> HttpResponse:
    """GET: the note's strike form (its disclosure on the page fetches it with HTMX,
    else a page with it); POST: strike the note through."""

    def strike(note, data: dict) -> str:
        services.note_strike(event=note, reason=data["reason"], actor=request.user, source=WEB)
        return "Note struck through."

    return _note_action(
        request, pk, event_id, "struck through", NoteStrikeForm, "strike", write=strike
    )


def _note_action(request, pk: int, event_id: int, action: str, form_class, name: str, *, write):
    """A note's edit or strike: GET shows its form (``_note_form``); POST validates
    ``form_class`` (prefixed ``<name>-<note id>``, as the page writes it) and runs
    ``write(note, data)``, which returns the notice."""
    note = _note_for_action(request, pk, event_id)
    if request.method == "GET":
        return _note_form(request, note, action)
    form = form_class(request.POST, prefix=f"{name}-{note.pk}")
    return _act(
        request,
        pk,
        form=form,
        form_name=f"note_{name}_form",
        perform=lambda data: write(note, data),
        event_id=note.pk,
    )


@driver_required
@require_http_methods(["GET", "POST"])
def role_assign(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the form (``_action_form``); POST: do it."""
    incident = _incident_for_action(request, pk)
    if request.method == "GET":
        return _action_form(request, incident, "role")

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
