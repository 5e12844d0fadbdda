"""``/settings/alert-sources/``: list, create, edit the rules of, rotate the key of
and read the payload log of alert sources (admins only).

A key is rendered once, in the response to the POST that made it (``no-store``),
as the token pages do (``common.token_views``)."""

from functools import partial

from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from common.access import admin_required
from common.exceptions import InvalidInput
from common.view_actions import form_errors_from, form_submit
from incidents.intake import selectors, sources
from incidents.intake.forms import AlertSourceCreateForm, AlertSourceRulesForm


def _render(request, template: str, context: dict, *, status: int = 200):
    response = render(request, template, context, status=status)
    add_never_cache_headers(response)  # a page that may hold a key is never cached
    return response


def _endpoint(request, source) -> str:
    return request.build_absolute_uri(reverse(f"api-integrations-{source.kind}"))


def _sources_page(request, form, *, status: int = 200, created=None, key=None):
    """Every source and the create form; after a create, the new source's key (once)."""
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
def alert_sources(request):
    """Every source; POST creates one and shows its key once."""
    form = AlertSourceCreateForm(request.POST or None)
    if request.method != "POST":
        return _sources_page(request, form)
    if not form.is_valid():
        return _sources_page(request, form, status=400)
    try:
        created, key = sources.alert_source_create(actor=request.user, **form.cleaned_data)
    except InvalidInput as exc:
        form_errors_from(form, exc)
        return _sources_page(request, form, status=400)
    return _sources_page(request, AlertSourceCreateForm(), created=created, key=key)


def _source_page(request, source, form, *, status: int = 200, key=None):
    """One source: its rules form, its key when just rotated, its last payloads."""
    context = {
        "source": source,
        "form": form,
        "key": key,
        "endpoint": _endpoint(request, source),
        "payloads": selectors.alert_source_payloads(source=source),
    }
    return _render(request, "incidents/alert_source_detail.html", context, status=status)


def _rules_save(request, source, form):
    """``action=rules``: saved, back to the source with a message; refused, the page
    again with the errors."""
    return form_submit(
        request,
        form,
        lambda data: sources.alert_source_update_rules(source=source, actor=request.user, **data),
        done=f"Saved the rules of {source.label}.",
        then=reverse("alert-source-detail", args=[source.pk]),
        again=partial(_source_page, request, source),
    )


@admin_required
@require_http_methods(["GET", "POST"])
def alert_source_detail(request, pk: int):
    """One source: its rules (POST ``action=rules``), its key (POST ``action=rotate``
    shows the new one once) and the last payloads it sent."""
    source = get_object_or_404(selectors.alert_sources_listed(), pk=pk)
    action = request.POST.get("action", "")
    form = AlertSourceRulesForm.for_source(source, request.POST if action == "rules" else None)
    if action == "rules":
        return _rules_save(request, source, form)
    if action == "rotate" and not source.is_default:
        key = sources.alert_source_rotate_key(source=source, actor=request.user)
        return _source_page(request, source, form, key=key)
    return _source_page(request, source, form)
