"""Settings → Status page (admins): components and groups, their order and the
services they stand for; the page's name, logo and time zone. Every write is one
call to ``statuspage.catalog`` (history row, new snapshot after commit). The
up/down buttons are plain forms; with HTMX they swap only the component list."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from common.access import admin_required
from common.exceptions import InvalidInput
from statuspage import catalog
from statuspage.models import Component, ComponentGroup
from statuspage.page_settings import page_settings_current
from workspace import catalog_selectors
from workspace.catalog_forms import ComponentForm, GroupForm, PageSettingsForm

PAGE_URL = "settings-status-page"


def form_errors_from(form, exc: InvalidInput | ValidationError) -> None:
    """A service's refusal as field-level errors of ``form`` (the page's words)."""
    if isinstance(exc, InvalidInput):
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _page(request, *, page_form=None, component_form=None, group_form=None, status=200):
    current = page_settings_current()
    return render(
        request,
        "workspace/status_page.html",
        {
            "page_form": page_form
            or PageSettingsForm(
                prefix="page", initial={"name": current.name, "time_zone": current.time_zone}
            ),
            "page_settings": current,
            "component_form": component_form or ComponentForm(prefix="component"),
            "group_form": group_form or GroupForm(prefix="group"),
            "catalog": catalog_selectors.status_page_catalog(),
        },
        status=status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def status_page(request):
    """The page; its POST saves the page's name, time zone and logo."""
    if request.method == "GET":
        return _page(request)
    form = PageSettingsForm(request.POST, request.FILES, prefix="page")
    if form.is_valid():
        try:
            catalog.page_settings_update(
                actor=request.user,
                name=form.cleaned_data["name"],
                time_zone=form.cleaned_data["time_zone"],
                logo=form.cleaned_data["logo"],
                remove_logo=form.cleaned_data["remove_logo"],
            )
        except (InvalidInput, ValidationError) as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, "Status page settings saved; the page is republished.")
            return redirect(PAGE_URL)
    return _page(request, page_form=form, status=400)


@admin_required
@require_POST
def component_add(request):
    form = ComponentForm(request.POST, prefix="component")
    if form.is_valid():
        try:
            component = catalog.component_create(
                actor=request.user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                group=form.cleaned_data["group"],
                services_mapped=form.cleaned_data["services"],
            )
        except (InvalidInput, ValidationError) as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, f"{component.name} is on the status page.")
            return redirect(PAGE_URL)
    return _page(request, component_form=form, status=400)


def edit_page(request, *, title, form, remove_url, blockers, back, status=200):
    """One row's edit page: its form, and Remove (or why it cannot be removed)."""
    return render(
        request,
        "workspace/catalog_edit.html",
        {
            "title": title,
            "form": form,
            "remove_url": remove_url,
            "blockers": blockers,
            "back": reverse(back),
        },
        status=status,
    )


def _component_edit_page(request, component, form, *, status=200):
    return edit_page(
        request,
        title=component.name,
        form=form,
        remove_url=reverse("settings-component-remove", args=[component.pk]),
        blockers=catalog.component_remove_blockers(component),
        back=PAGE_URL,
        status=status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def component_edit(request, pk: int):
    component = get_object_or_404(Component, pk=pk)
    if request.method == "GET":
        form = ComponentForm(
            initial={
                "name": component.name,
                "description": component.description,
                "group": component.group,
                "services": list(component.services.all()),
            }
        )
        return _component_edit_page(request, component, form)
    form = ComponentForm(request.POST)
    if form.is_valid():
        try:
            catalog.component_update(
                component=component,
                actor=request.user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                group=form.cleaned_data["group"],
                services_mapped=form.cleaned_data["services"],
            )
        except (InvalidInput, ValidationError) as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, f"{component.name} saved.")
            return redirect(PAGE_URL)
    return _component_edit_page(request, component, form, status=400)


@admin_required
@require_POST
def component_move(request, pk: int):
    component = get_object_or_404(Component, pk=pk)
    try:
        catalog.component_move(
            component=component, direction=request.POST.get("direction", ""), actor=request.user
        )
    except InvalidInput as exc:
        messages.error(request, exc.message)
    return redirect(reverse(PAGE_URL) + f"#component-{component.pk}")


@admin_required
@require_POST
def component_remove(request, pk: int):
    component = get_object_or_404(Component, pk=pk)
    try:
        catalog.component_remove(component=component, actor=request.user)
    except InvalidInput as exc:
        messages.error(request, exc.message)
        return redirect("settings-component-edit", pk=component.pk)
    messages.success(request, f"{component.name} removed from the status page.")
    return redirect(PAGE_URL)


@admin_required
@require_POST
def group_add(request):
    form = GroupForm(request.POST, prefix="group")
    if form.is_valid():
        try:
            group = catalog.group_create(actor=request.user, **form.cleaned_data)
        except (InvalidInput, ValidationError) as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, f"Group {group.name} added.")
            return redirect(PAGE_URL)
    return _page(request, group_form=form, status=400)


def _group_edit_page(request, group, form, *, status=200):
    count = group.components.count()
    return edit_page(
        request,
        title=f"Group {group.name}",
        form=form,
        remove_url=reverse("settings-group-remove", args=[group.pk]),
        blockers=[f"it holds {count} component(s): move or remove them first"] if count else [],
        back=PAGE_URL,
        status=status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def group_edit(request, pk: int):
    group = get_object_or_404(ComponentGroup, pk=pk)
    if request.method == "GET":
        form = GroupForm(initial={"name": group.name, "description": group.description})
        return _group_edit_page(request, group, form)
    form = GroupForm(request.POST)
    if form.is_valid():
        try:
            catalog.group_update(group=group, actor=request.user, **form.cleaned_data)
        except (InvalidInput, ValidationError) as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, f"Group {group.name} saved.")
            return redirect(PAGE_URL)
    return _group_edit_page(request, group, form, status=400)


@admin_required
@require_POST
def group_move(request, pk: int):
    group = get_object_or_404(ComponentGroup, pk=pk)
    try:
        catalog.group_move(
            group=group, direction=request.POST.get("direction", ""), actor=request.user
        )
    except InvalidInput as exc:
        messages.error(request, exc.message)
    return redirect(reverse(PAGE_URL) + f"#group-{group.pk}")


@admin_required
@require_POST
def group_remove(request, pk: int):
    group = get_object_or_404(ComponentGroup, pk=pk)
    try:
        catalog.group_remove(group=group, actor=request.user)
    except InvalidInput as exc:
        messages.error(request, exc.message)
        return redirect("settings-group-edit", pk=group.pk)
    messages.success(request, f"Group {group.name} removed.")
    return redirect(PAGE_URL)
