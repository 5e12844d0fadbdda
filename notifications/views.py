"""The incident's Communications tab: post updates, see who was told what, replay."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from common import forward_page, keyset
from common.access import driver_required
from common.exceptions import ApplicationError
from common.roles import can_drive_incidents
from incidents import selectors as incident_selectors
from incidents.models import TimelineEvent
from notifications import cadence, composer, deliveries_html, problems, selectors, services

REGION = "notifications/partials/communications.html"
PREVIEW = "notifications/partials/composer_preview.html"
WEB = TimelineEvent.Source.WEB
# The newest updates the tab lists; older ones are on the incident's timeline.
UPDATES_SHOWN = 20
BAD_CURSOR = (
    "This link's cursor is not valid (cut short, edited, or from another list): "
    "these are the first deliveries."
)


def _incident(request: HttpRequest, pk: int):
    return get_object_or_404(
        incident_selectors.incidents_visible_to(request.user).select_related("severity"), pk=pk
    )


def _resolution_preview(incident) -> list[dict]:
    """What resolving the public incident now would leave each of its components
    showing (computed from the other incidents and maintenances)."""
    if not incident.status_updates.filter(audiences__slug=services.PUBLIC_AUDIENCE).exists():
        return []
    try:
        preview = services.update_preview(
            incident=incident,
            message="(preview)",
            actor=None,
            audiences=[services.PUBLIC_AUDIENCE],
            public_status="resolved",
        )
    except ApplicationError:
        return []  # nothing public to resolve (never published, or resolved already)
    return preview["components"]


def _render(
    request: HttpRequest,
    incident,
    *,
    form=None,
    status: int = 200,
    notice: str = "",
    preview: dict | None = None,
    public: dict | None = None,
):
    public = public or composer.public_state(incident)
    form = form or composer.composer_form(public=public)
    deliveries, position, bad_cursor = _deliveries_page(request, incident)
    if bad_cursor and request.method == "GET":
        status = 400  # as the API answers it; an action's own answer keeps its status
    pauses = list(selectors.channel_pauses())
    judged = problems.problems_of_page(deliveries, incident=incident, pauses=pauses)
    found = {p.delivery.pk: p for p in judged}
    can_drive = can_drive_incidents(request.user)
    updates = selectors.latest_updates_for(incident=incident, limit=UPDATES_SHOWN)
    context = {
        **composer.context(incident=incident, form=form, public=public),
        "incident": incident,
        "active_tab": "communications",
        "cadence": cadence.cadence_for(incident=incident, now=timezone.now()),
        "updates": updates[:UPDATES_SHOWN],
        "older_updates": len(updates) > UPDATES_SHOWN,
        "deliveries": deliveries,
        "position": position,
        "cursor_notice": BAD_CURSOR if bad_cursor else "",
        "delivery_rows": deliveries_html.delivery_rows(
            request, deliveries, problems=found, incident=incident, can_drive=can_drive
        ),
        "pauses": pauses,
        "notice": notice,
        "can_drive": can_drive,
        "preview": preview,
        "resolution": _resolution_preview(incident) if incident.is_open else [],
    }
    template = REGION if request.htmx else "notifications/communications.html"
    return render(request, template, context, status=status)


def _deliveries_page(request: HttpRequest, incident) -> tuple[list, forward_page.Position, bool]:
    """The page of deliveries the request asks for (``?cursor=``, or posted back by the
    swapped region's actions, ``Position.hx_vals``), where it sits, and whether its
    cursor was not one (then it is the first page)."""
    cursor, start = forward_page.requested(request)
    size = selectors.DELIVERIES_PAGE
    try:
        page = selectors.deliveries_page(incident=incident, cursor=cursor, size=size)
        bad_cursor = False
    except keyset.InvalidCursor:
        cursor, start, bad_cursor = None, 1, True
        page = selectors.deliveries_page(incident=incident, cursor=None, size=size)
    total, capped = selectors.deliveries_counted(incident=incident)
    position = forward_page.Position(
        url=reverse("communications:page", args=[incident.pk]),
        cursor=cursor,
        start=start,
        shown=len(page.rows),
        size=size,
        next_cursor=page.next_cursor,
        total=total,
        capped=capped,
    )
    return page.rows, position, bad_cursor


@login_required
@require_GET
def communications(request: HttpRequest, pk: int) -> HttpResponse:
    return _render(request, _incident(request, pk))


def _done(request: HttpRequest, incident, notice: str) -> HttpResponse:
    if request.htmx:
        return _render(request, incident, notice=notice)
    messages.success(request, notice)
    return redirect("communications:page", pk=incident.pk)


def _composer_again(request: HttpRequest, incident, form, **kwargs) -> HttpResponse:
    """The tab again with the form as posted. Only now are the public statuses it may
    offer read: posting does not need them (``update_check`` decides)."""
    public = composer.public_state(incident)
    composer.offer_public_statuses(form, public)
    return _render(request, incident, form=form, public=public, **kwargs)


def _preview_again(request: HttpRequest, incident, form) -> HttpResponse:
    """Without JavaScript: the whole tab again, with the preview in the form."""
    try:
        preview = composer.preview(incident=incident, actor=request.user, **form.service_kwargs())
    except ApplicationError as error:
        composer.refusal(error, form)
        return _composer_again(request, incident, form, status=error.status_code)
    return _composer_again(request, incident, form, preview=preview)


@driver_required
@require_POST
def update_post(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident(request, pk)
    # public=None: the public statuses to offer are read to show the form again, not to post.
    form = composer.composer_form(request.POST, public=None)
    if not form.is_valid():
        return _composer_again(request, incident, form, status=400)
    if request.POST.get("preview"):
        return _preview_again(request, incident, form)
    try:
        update = services.update_post(
            incident=incident, actor=request.user, source=WEB, **form.service_kwargs()
        )
    except ApplicationError as error:
        composer.refusal(error, form)
        return _composer_again(request, incident, form, status=error.status_code)
    return _done(request, incident, problems.posted_notice(selectors.update_as_posted(update)))


@driver_required
@require_POST
def update_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The composer's preview, fetched by HTMX: what each audience would receive, and
    each refusal next to its field (swapped out of band), the inputs left as typed."""
    incident = _incident(request, pk)
    public = composer.public_state(incident)
    form = composer.composer_form(request.POST, public=public)
    preview = None
    if form.is_valid():
        try:
            preview = composer.preview(
                incident=incident, actor=request.user, **form.service_kwargs()
            )
        except ApplicationError as error:
            composer.refusal(error, form)
    # 200 either way: the refusals are the answer, shown where the responder looks.
    return render(request, PREVIEW, {"form": form, "preview": preview, "oob": True})


@driver_required
@require_POST
def delivery_replay(request: HttpRequest, pk: int, delivery_id) -> HttpResponse:
    incident = _incident(request, pk)
    delivery = get_object_or_404(selectors.deliveries_for(incident=incident), pk=delivery_id)
    try:
        services.delivery_replay(delivery=delivery, actor=request.user)
    except ApplicationError as error:
        if request.htmx:
            return _render(request, incident, notice=error.message, status=error.status_code)
        messages.error(request, error.message)
        return redirect("communications:page", pk=incident.pk)
    return _done(request, incident, f"Replaying the delivery to {delivery.destination}.")
