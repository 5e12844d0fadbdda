"""CSV downloads of the incident list (with the list's filters) and of an incident's
timeline, streamed (common.csv_export: formula-safe cells). Reads go through the
list selector and the timeline selector, so visibility is the pages' own."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from common.csv_export import csv_response
from incidents import selectors
from incidents.forms import IncidentFilterForm

CHUNK = 500

LIST_HEADER = [
    "id", "title", "severity", "stage", "status", "outcome", "private", "services",
    "commander", "started_at", "detected_at", "recovered_at", "closed_at",
    "detection_source", "detected_before_customers", "category", "failure_patterns",
    "sla_minutes_breached", "estimated_loss", "reopened_count", "url",
]  # fmt: skip


def _name(user) -> str:
    return user.get_username() if user else ""


def _list_rows(incidents):
    for incident in incidents.iterator(chunk_size=CHUNK):
        yield [
            incident.pk,
            incident.title,
            incident.severity.code,
            incident.get_stage_display(),
            "open" if incident.is_open else "closed",
            incident.get_outcome_display() if incident.outcome else "",
            incident.private,
            ", ".join(service.name for service in incident.services.all()),
            _name(incident.commander),
            incident.started_at,
            incident.detected_at,
            incident.recovered_at,
            incident.closed_at,
            incident.get_detection_source_display(),
            incident.detected_before_customers,
            incident.get_category_display() if incident.category else "",
            ", ".join(str(p) for p in incident.failure_patterns or []),
            incident.sla_minutes_breached,
            incident.estimated_loss,
            incident.reopened_count,
            settings.KEEL_PUBLIC_URL.rstrip("/") + reverse("incidents:detail", args=[incident.pk]),
        ]


@login_required
@require_GET
def incident_list_csv(request: HttpRequest) -> HttpResponse:
    """The incident list as CSV, filtered as the list page is (invalid filters are
    ignored there too; the page shows their errors)."""
    form = IncidentFilterForm(request.GET)
    form.is_valid()
    incidents = selectors.incident_list(user=request.user, filters=form.filters())
    return csv_response("keel-incidents.csv", LIST_HEADER, _list_rows(incidents))


TIMELINE_HEADER = ["occurred_at", "kind", "actor", "source", "text", "edited_at", "struck_at"]


def _timeline_rows(events):
    for event in events.order_by("occurred_at", "pk").iterator(chunk_size=CHUNK):
        yield [
            event.occurred_at,
            event.get_kind_display(),
            _name(event.actor),
            event.get_source_display(),
            event.text,
            event.edited_at,
            event.struck_at,
        ]


@login_required
@require_GET
def incident_timeline_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """An incident's timeline, oldest first; 404 when the user may not see it."""
    incident = selectors.incidents_visible_to(request.user).filter(pk=pk).first()
    if incident is None:
        raise Http404("No such incident.")
    events = selectors.timeline_for(incident=incident)
    return csv_response(
        f"keel-incident-{incident.pk}-timeline.csv", TIMELINE_HEADER, _timeline_rows(events)
    )
