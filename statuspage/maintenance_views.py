"""The maintenance pages: list, schedule, detail (updates, history), edit, post
an update, start / verify / complete, cancel. Everyone signed in reads them;
responders and admins write. Thin: a form → one ``statuspage.maintenance`` call
(through ``form_once``, so a double submit writes once) → POST/redirect/GET with a
message; a refusal re-renders the page with the error next to its field, with the
error's own status (400, 409), never a 500."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common.access import driver_required
from common.exceptions import ApplicationError
from common.idempotency import form_once
from common.roles import can_drive_incidents
from common.view_actions import form_errors_from
from statuspage import maintenance as services
from statuspage import selectors
from statuspage.maintenance_forms import (
    MOVE_LABELS,
    MaintenanceCancelForm,
    MaintenanceEditForm,
    MaintenanceMoveForm,
    MaintenanceScheduleForm,
    MaintenanceUpdateForm,
)
from statuspage.models import MaintenanceStatus, ScheduledMaintenance

DONE = {
    MaintenanceStatus.IN_PROGRESS: "Maintenance started.",
    MaintenanceStatus.VERIFYING: "Maintenance is being verified.",
    MaintenanceStatus.COMPLETED: "Maintenance completed.",
}


def _maintenance(pk: int) -> ScheduledMaintenance:
    try:
        return selectors.maintenance_detail(pk)
    except ScheduledMaintenance.DoesNotExist as exc:
        raise Http404("No such maintenance.") from exc


def _moves(maintenance: ScheduledMaintenance) -> list[dict]:
    """The moves its status allows, each with its own form (notify defaults from it)."""
    moves = []
    for to in services.FLOW.targets(maintenance.status):
        if to == MaintenanceStatus.CANCELLED:
            continue
        notify = services.notify_default(maintenance, to)
        if to == MaintenanceStatus.IN_PROGRESS and maintenance.status != "scheduled":
            label = "Back to in progress"
        else:
            label = MOVE_LABELS[to]
        moves.append(
            {
                "to": to,
                "label": label,
                # The next step in the usual flow: start a scheduled one, else complete.
                "primary": to == MaintenanceStatus.COMPLETED
                or maintenance.status == MaintenanceStatus.SCHEDULED,
                "form": MaintenanceMoveForm(initial={"to": to, "notify": notify}, prefix=to),
            }
        )
    order = [
        MaintenanceStatus.IN_PROGRESS,
        MaintenanceStatus.VERIFYING,
        MaintenanceStatus.COMPLETED,
    ]
    return sorted(moves, key=lambda m: order.index(m["to"]))


def _render_detail(
    request: HttpRequest, pk: int, *, status: int = 200, failed_move: str = "", **bound
) -> HttpResponse:
    maintenance = _maintenance(pk)
    context = {
        "maintenance": maintenance,
        "updates": list(maintenance.updates.all()),
        "components": list(maintenance.components.all()),
        "history": selectors.maintenance_history(maintenance),
        "description": services.description(maintenance),
        "can_write": can_drive_incidents(request.user) and not maintenance.is_over,
    }
    failed = bound.pop("move_form", None)
    if context["can_write"]:
        moves = _moves(maintenance)
        for move in moves:
            if failed is not None and move["to"] == failed_move:
                move["form"], failed = failed, None
        context.update(
            moves=moves,
            update_form=MaintenanceUpdateForm(),
            cancel_form=MaintenanceCancelForm(),
        )
        context.update(bound)
    if failed is not None:
        # A move this page no longer offers (someone else moved it first): say why.
        context["action_errors"] = [e for errors in failed.errors.values() for e in errors]
    return render(request, "statuspage/maintenances/detail.html", context, status=status)


def _detail_url(pk: int) -> str:
    return reverse("maintenance:detail", args=[pk])


def _done(request: HttpRequest, location: str, replayed: bool, notice: str) -> HttpResponse:
    if replayed:
        messages.info(request, "Already done: that form was sent twice, it counted once.")
    else:
        messages.success(request, notice)
    return redirect(location)


@login_required
@require_GET
def maintenance_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "statuspage/maintenances/list.html",
        {
            "sections": selectors.maintenances_by_state(),
            "can_write": can_drive_incidents(request.user),
        },
    )


@login_required
@require_GET
def maintenance_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, pk)


def _form_page(
    request: HttpRequest, form, write, *, then, template: str, notice: str, **context
) -> HttpResponse:
    """GET: the form. POST: validated and ``write(cleaned_data)`` run once (``form_once``:
    a double submit writes once), then ``then(what it returned)`` (a URL) with ``notice``;
    refused: the form again with the error on its field and the error's status."""
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                location, replayed = form_once(
                    request=request, perform=lambda: then(write(form.cleaned_data))
                )
            except ApplicationError as error:
                form_errors_from(form, error)
                status = error.status_code
            else:
                return _done(request, location, replayed, notice)
    return render(request, template, {"form": form, **context}, status=status)


@driver_required
@require_http_methods(["GET", "POST"])
def maintenance_schedule(request: HttpRequest) -> HttpResponse:
    return _form_page(
        request,
        MaintenanceScheduleForm(request.POST or None),
        lambda data: services.maintenance_schedule(
            actor=request.user,
            **{name: value for name, value in data.items() if name != "submission_key"},
        ),
        then=lambda maintenance: _detail_url(maintenance.pk),
        template="statuspage/maintenances/schedule.html",
        notice="Maintenance scheduled.",
    )


def _refused_when_over(request: HttpRequest, maintenance: ScheduledMaintenance):
    """Back to the detail page, saying why, when it is over (nothing left to edit)."""
    if not maintenance.is_over:
        return None
    messages.error(request, f"This maintenance is {maintenance.get_status_display().lower()}.")
    return redirect(_detail_url(maintenance.pk))


@driver_required
@require_http_methods(["GET", "POST"])
def maintenance_edit(request: HttpRequest, pk: int) -> HttpResponse:
    maintenance = _maintenance(pk)
    if refused := _refused_when_over(request, maintenance):
        return refused
    form = MaintenanceEditForm(request.POST or None, maintenance=maintenance)
    return _form_page(
        request,
        form,
        lambda _: services.maintenance_edit(
            maintenance=maintenance, actor=request.user, **form.service_kwargs()
        ),
        then=lambda _: _detail_url(pk),
        template="statuspage/maintenances/edit.html",
        notice="Saved.",
        maintenance=maintenance,
    )


def _act(request: HttpRequest, pk: int, *, form, form_name: str, service, notice: str, **extra):
    """A form of the detail page: ``service(maintenance=, actor=, **the form's fields)``
    run once (``form_once``), then the detail page again with ``notice``; refused: the
    page with the form's errors."""
    maintenance = _maintenance(pk)
    if not form.is_valid():
        return _render_detail(request, pk, status=400, **{form_name: form}, **extra)

    def perform() -> str:
        service(maintenance=maintenance, actor=request.user, **form.to_write())
        return _detail_url(pk)

    try:
        location, replayed = form_once(request=request, perform=perform)
    except ApplicationError as error:
        form_errors_from(form, error)
        return _render_detail(request, pk, status=error.status_code, **{form_name: form}, **extra)
    return _done(request, location, replayed, notice)


@driver_required
@require_POST
def maintenance_update_post(request: HttpRequest, pk: int) -> HttpResponse:
    form = MaintenanceUpdateForm(request.POST)
    service = services.maintenance_update_post
    done = "Update posted."
    return _act(request, pk, form=form, form_name="update_form", service=service, notice=done)


@driver_required
@require_POST
def maintenance_move(request: HttpRequest, pk: int) -> HttpResponse:
    to = request.POST.get("move", "")
    # Each move's form has its own prefix (several sit on one page); "move" names it.
    form = MaintenanceMoveForm(request.POST, prefix=to if to in MOVE_LABELS else None)
    return _act(
        request,
        pk,
        form=form,
        form_name="move_form",
        service=services.maintenance_move,
        notice=DONE.get(to, "Done."),
        failed_move=to,
    )


@driver_required
@require_POST
def maintenance_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    form = MaintenanceCancelForm(request.POST)
    service = services.maintenance_cancel
    done = "Maintenance cancelled."
    return _act(request, pk, form=form, form_name="cancel_form", service=service, notice=done)
