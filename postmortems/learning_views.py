"""Pages for learning across incidents: similar past incidents while declaring, and the
action items' evidence (link a metric, check it)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from postmortems import recurrence
from postmortems.forms import SimilarDraftForm


@login_required
@require_GET
def similar_suggestions(request: HttpRequest) -> HttpResponse:
    """The declare form's suggestions (HTMX, as the title and services are typed)."""
    form = SimilarDraftForm(request.GET)
    if not form.is_valid():
        return render(
            request, "postmortems/partials/similar_suggestions.html", {"form": form}, status=400
        )
    similar = recurrence.similar_to_draft(user=request.user, **form.cleaned_data)
    return render(
        request,
        "postmortems/partials/similar_suggestions.html",
        {"form": form, "similar": similar, "asked": True},
    )
