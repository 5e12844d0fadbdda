"""CSV download of the action items list, with the list's filters, streamed
(common.csv_export: formula-safe cells); visibility is the list selector's."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from common.csv_export import csv_response
from postmortems import selectors
from postmortems.forms import ActionItemFilterForm

HEADER = [
    "id", "incident", "incident_title", "title", "kind", "term", "priority", "status",
    "owner", "team", "due_date", "completed_at", "tracker_url",
]  # fmt: skip


def _rows(items):
    for item in items.iterator(chunk_size=500):
        incident = item.postmortem.incident
        yield [
            item.pk,
            incident.pk,
            incident.title,
            item.title,
            item.get_kind_display(),
            item.get_term_display(),
            item.priority,
            item.get_status_display(),
            item.owner.get_username() if item.owner else "",
            item.team.name if item.team else "",
            item.due_date,
            item.completed_at,
            item.tracker_url,
        ]


@login_required
@require_GET
def action_items_csv(request: HttpRequest) -> HttpResponse:
    form = ActionItemFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    items = selectors.action_items_list(user=request.user, filters=filters).select_related(
        "owner", "team", "postmortem__incident"
    )
    return csv_response("keel-action-items.csv", HEADER, _rows(items))
