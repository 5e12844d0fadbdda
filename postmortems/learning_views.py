"""Pages for learning across incidents: similar past incidents while declaring, and the
action items' evidence (link a metric, check it)."""

from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from common.view_actions import form_page
from incidents.visibility import incidents_visible_to
from postmortems import evidence, presenters, recurrence, selectors
from postmortems.forms import EvidenceForm, SimilarDraftForm


@login_required
@require_GET
def incident_similar(request: HttpRequest, pk: int) -> HttpResponse:
    """The incident page's panel (loaded by HTMX after the page, so the page itself does
    not wait on the ranking), or a page of its own without JavaScript."""
    incident = get_object_or_404(incidents_visible_to(request.user), pk=pk)
    similar = recurrence.similar_to_incident(incident=incident, user=request.user)
    template = (
        "postmortems/partials/similar.html" if request.htmx else "postmortems/similar_page.html"
    )
    return render(request, template, {"incident": incident, "similar": similar})


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


def _evidence_link(request: HttpRequest, item, data: dict) -> HttpResponse:
    evidence.evidence_link(item=item, actor=request.user, **data)
    messages.success(request, "Evidence linked.")
    return redirect("postmortems:action_item_evidence", pk=item.pk)


@login_required
@require_http_methods(["GET", "POST"])
def action_item_evidence(request: HttpRequest, pk: int) -> HttpResponse:
    """An action item's evidence: its current verdict, and (for responders) the form
    that links or re-links the metric."""
    item = get_object_or_404(selectors.action_items_shown(user=request.user), pk=pk)
    context = presenters.evidence_context(item, user=request.user)
    if request.method == "POST" and not context["can_link"]:
        raise PermissionDenied
    return form_page(
        request,
        EvidenceForm.for_link(request.POST or None, context["link"]),
        save=partial(_evidence_link, request, item),
        template="postmortems/evidence.html",
        context=context,
    )
