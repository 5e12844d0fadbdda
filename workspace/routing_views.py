"""Settings → Routing: the rules as sentences, edited with selects and checkboxes
(``notifications.routes`` writes them), and "who would be told?" (HTMX swaps only
the answer; every form works without JavaScript)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common.access import admin_required
from common.exceptions import InvalidInput
from common.view_actions import form_errors_from
from notifications import routes
from notifications.models import Route
from workspace import routing


def _routing_page(request, *, route_form=None, status=200):
    form = routing.PreviewForm(request.GET or None)
    told = None
    if form.is_valid():
        told = routing.who_would_be_told(**form.cleaned_data)
    context = {
        "routes": [(route, routing.route_sentence(route)) for route in routing.routes_in_words()],
        "form": form,
        "told": told,
        "route_form": route_form or routing.RouteForm(),
    }
    if request.htmx and request.method == "GET":
        return render(request, "workspace/partials/who_is_told.html", context)
    return render(request, "workspace/routing.html", context, status=status)


@admin_required
@require_GET
def routing_page(request):
    """Routes as sentences, the form adding one, and "who would be told?"."""
    return _routing_page(request)


def _saved(request, route: Route, verb: str):
    route = routing.routes_in_words().get(pk=route.pk)
    messages.success(request, f"Rule {verb}: {routing.route_sentence(route)}")
    return redirect("settings-routing")


@admin_required
@require_POST
def route_new(request):
    form = routing.RouteForm(request.POST)
    if form.is_valid():
        try:
            route = routes.route_create(actor=request.user, **form.cleaned_data)
        except InvalidInput as exc:
            form_errors_from(form, exc)
        else:
            return _saved(request, route, "added")
    return _routing_page(request, route_form=form, status=400)


@admin_required
@require_http_methods(["GET", "POST"])
def route_edit(request, pk: int):
    route = get_object_or_404(routing.routes_in_words(), pk=pk)
    form = routing.RouteForm(request.POST or None, initial=routing.route_initial(route))
    if request.method == "POST" and form.is_valid():
        try:
            route = routes.route_update(route=route, actor=request.user, **form.cleaned_data)
        except InvalidInput as exc:
            form_errors_from(form, exc)
        else:
            return _saved(request, route, "saved")
    return render(
        request,
        "workspace/route_edit.html",
        {"route": route, "sentence": routing.route_sentence(route), "form": form},
        status=400 if request.method == "POST" else 200,
    )


@admin_required
@require_POST
def route_active(request, pk: int):
    route = get_object_or_404(Route, pk=pk)
    active = request.POST.get("active") == "1"
    routes.route_active_set(route=route, active=active, actor=request.user)
    messages.success(request, f"“{route.name}” {'activated' if active else 'deactivated'}.")
    return redirect("settings-routing")


@admin_required
@require_POST
def route_delete(request, pk: int):
    route = get_object_or_404(Route, pk=pk)
    name = routes.route_delete(route=route, actor=request.user)
    messages.success(request, f"“{name}” deleted.")
    return redirect("settings-routing")
