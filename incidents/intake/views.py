"""``/settings/alert-sources/``: list, create, edit the rules of, rotate the key of
and read the payload log of alert sources (admins only).

A key is rendered once, in the response to the POST that made it (``no-store``),
as the token pages do (``common.token_views``)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from common.access import admin_required
from common.exceptions import InvalidInput
from incidents.intake import selectors, sources
from incidents.intake.forms import AlertSourceCreateForm, AlertSourceRulesForm


def _render(request, template: str, context: dict, *, status: int = 200):
    response = render(request, template, context, status=status)
    add_never_cache_headers(response)  # a page that may hold a key is never cached
    return response


def _endpoint(request, source) -> str:
    return request.build_absolute_uri(reverse(f"api-integrations-{source.kind}"))


@admin_required
@require_http_methods(["GET", "POST"])
def alert_sources(request):
    """Every source; POST creates one and shows its key once."""
    form = AlertSourceCreateForm(request.POST or None)
    created = key = None
    if request.method == "POST" and form.is_valid():
        try:
            created, key = sources.alert_source_create(actor=request.user, **form.cleaned_data)
            form = AlertSourceCreateForm()
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    status = 400 if request.method == "POST" and created is None else 200
    context = {
        "form": form,
        "sources": selectors.alert_sources_listed(),
        "created": created,
        "key": key,
        "endpoint": _endpoint(request, created) if created else "",
    }
    return _render(request, "incidents/alert_sources.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def alert_source_detail(request, pk: int):
    """One source: its rules (POST ``action=rules``), its key (POST ``action=rotate``
    shows the new one once) and the last payloads it sent."""
    source = get_object_or_404(selectors.alert_sources_listed(), pk=pk)
    action = request.POST.get("action", "")
    form = AlertSourceRulesForm.for_source(source, request.POST if action == "rules" else None)
    key, status = None, 200
    if action == "rotate" and not source.is_default:
        key = sources.alert_source_rotate_key(source=source, actor=request.user)
    elif action == "rules":
        if form.is_valid():
            try:
                sources.alert_source_update_rules(
                    source=source, actor=request.user, **form.cleaned_data
                )
                messages.success(request, f"Saved the rules of {source.label}.")
                return redirect("alert-source-detail", pk=source.pk)
            except InvalidInput as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        status = 400
    context = {
        "source": source,
        "form": form,
        "key": key,
        "endpoint": _endpoint(request, source),
        "payloads": selectors.alert_source_payloads(source=source),
    }
    return _render(request, "incidents/alert_source_detail.html", context, status=status)
