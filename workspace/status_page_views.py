"""Settings → Status page (admins): components and groups, their order and the
services they stand for; the page's name, logo and time zone. Every write is one
call to ``statuspage.catalog`` (history row, new snapshot after commit). The
up/down buttons are plain forms; with HTMX they swap only the component list."""

from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from common.access import admin_required
from common.view_actions import act, form_submit
from statuspage import catalog
from statuspage.models import Component, ComponentGroup
from statuspage.page_settings import page_settings_current
from workspace import catalog_selectors
from workspace.catalog_forms import ComponentForm, GroupForm, PageSettingsForm

PAGE_URL = "settings-status-page"


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
    return form_submit(
        request,
        form,
        lambda data: catalog.page_settings_update(
            actor=request.user,
            name=data["name"],
            time_zone=data["time_zone"],
            logo=data["logo"],
            remove_logo=data["remove_logo"],
        ),
        done="Status page settings saved; the page is republished.",
        then=PAGE_URL,
        again=lambda form, status: _page(request, page_form=form, status=status),
    )


@admin_required
@require_POST
def component_add(request):
    form = ComponentForm(request.POST, prefix="component")
    return form_submit(
        request,
        form,
        lambda data: catalog.component_create(
            actor=request.user,
            name=data["name"],
            description=data["description"],
            group=data["group"],
            services_mapped=data["services"],
        ),
        done=lambda component: f"{component.name} is on the status page.",
        then=PAGE_URL,
        again=lambda form, status: _page(request, component_form=form, status=status),
    )


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
    return form_submit(
        request,
        form,
        lambda data: catalog.component_update(
            component=component,
            actor=request.user,
            name=data["name"],
            description=data["description"],
            group=data["group"],
            services_mapped=data["services"],
        ),
        done=lambda _: f"{component.name} saved.",
        then=PAGE_URL,
        again=lambda form, status: _component_edit_page(request, component, form, status=status),
    )


@admin_required
@require_POST
def component_move(request, pk: int):
    component = get_object_or_404(Component, pk=pk)
    return act(
        request,
        lambda: catalog.component_move(
            component=component, direction=request.POST.get("direction", ""), actor=request.user
        ),
        then=reverse(PAGE_URL) + f"#component-{component.pk}",
    )


@admin_required
@require_POST
def component_remove(request, pk: int):
    component = get_object_or_404(Component, pk=pk)
    return act(
        request,
        lambda: catalog.component_remove(component=component, actor=request.user),
        done=f"{component.name} removed from the status page.",
        then=PAGE_URL,
        refused_then=reverse("settings-component-edit", args=[component.pk]),
    )


@admin_required
@require_POST
def group_add(request):
    form = GroupForm(request.POST, prefix="group")
    return form_submit(
        request,
        form,
        lambda data: catalog.group_create(actor=request.user, **data),
        done=lambda group: f"Group {group.name} added.",
        then=PAGE_URL,
        again=lambda form, status: _page(request, group_form=form, status=status),
    )


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
    return form_submit(
        request,
        form,
        lambda data: catalog.group_update(group=group, actor=request.user, **data),
        done=lambda _: f"Group {group.name} saved.",
        then=PAGE_URL,
        again=lambda form, status: _group_edit_page(request, group, form, status=status),
    )


@admin_required
@require_POST
def group_move(request, pk: int):
    group = get_object_or_404(ComponentGroup, pk=pk)
    return act(
        request,
        lambda: catalog.group_move(
            group=group, direction=request.POST.get("direction", ""), actor=request.user
        ),
        then=reverse(PAGE_URL) + f"#group-{group.pk}",
    )


@admin_required
@require_POST
def group_remove(request, pk: int):
    group = get_object_or_404(ComponentGroup, pk=pk)
    return act(
        request,
        lambda: catalog.group_remove(group=group, actor=request.user),
        done=f"Group {group.name} removed.",
        then=PAGE_URL,
        refused_then=reverse("settings-group-edit", args=[group.pk]),
    )
