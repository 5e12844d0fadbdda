"""Settings → Status page (admins): components and groups, their order and the
services they stand for; the page's name, logo and time zone. Every write is one
call to ``statuspage.catalog`` (history row, new snapshot after commit). The
up/down buttons are plain forms; with HTMX they swap only the component list."""

from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from common.access import admin_required
from common.middleware import accepts_bodies_up_to
from common.view_actions import form_submit
from statuspage import catalog
from statuspage.models import Component, ComponentGroup
from statuspage.page_settings import LOGO_UPLOAD_MAX_BYTES, page_settings_current
from workspace import catalog_selectors
from workspace.catalog_forms import ComponentForm, GroupForm, PageSettingsForm
from workspace.row_editor_views import (
    RowEditor,
    row_add_view,
    row_edit_view,
    row_move_view,
    row_remove_view,
)

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


@accepts_bodies_up_to(LOGO_UPLOAD_MAX_BYTES)
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
        # The form's fields are the call's: name, time_zone, logo, remove_logo.
        lambda data: catalog.page_settings_update(actor=request.user, **data),
        done="Status page settings saved; the page is republished.",
        then=PAGE_URL,
        again=lambda form, status: _page(request, page_form=form, status=status),
    )


def _component_fields(data) -> dict:
    """The component form's fields as the catalog's keyword arguments."""
    return {
        "name": data["name"],
        "description": data["description"],
        "group": data["group"],
        "services_mapped": data["services"],
    }


COMPONENTS = RowEditor(
    model=Component,
    form=ComponentForm,
    title=lambda component: component.name,
    back=PAGE_URL,
    initial=lambda component: {
        "name": component.name,
        "description": component.description,
        "group": component.group,
        "services": list(component.services.all()),
    },
    update=lambda component, actor, data: catalog.component_update(
        component=component, actor=actor, **_component_fields(data)
    ),
    remove_url="settings-component-remove",
    edit_url="settings-component-edit",
    remove=lambda component, actor: catalog.component_remove(component=component, actor=actor),
    blockers=catalog.component_remove_blockers,
    removed=lambda component: f"{component.name} removed from the status page.",
    move=lambda component, actor, direction: catalog.component_move(
        component=component, direction=direction, actor=actor
    ),
    anchor="component",
    prefix="component",
    create=lambda actor, data: catalog.component_create(actor=actor, **_component_fields(data)),
    added=lambda component: f"{component.name} is on the status page.",
    list_page=lambda request, form, status: _page(request, component_form=form, status=status),
)
component_add = row_add_view(COMPONENTS)
component_edit = row_edit_view(COMPONENTS)
component_move = row_move_view(COMPONENTS)
component_remove = row_remove_view(COMPONENTS)


def _group_remove_blockers(group) -> list[str]:
    count = group.components.count()
    return [f"it holds {count} component(s): move or remove them first"] if count else []


GROUPS = RowEditor(
    model=ComponentGroup,
    form=GroupForm,
    title=lambda group: f"Group {group.name}",
    back=PAGE_URL,
    initial=lambda group: {"name": group.name, "description": group.description},
    update=lambda group, actor, data: catalog.group_update(group=group, actor=actor, **data),
    remove_url="settings-group-remove",
    edit_url="settings-group-edit",
    remove=lambda group, actor: catalog.group_remove(group=group, actor=actor),
    blockers=_group_remove_blockers,
    move=lambda group, actor, direction: catalog.group_move(
        group=group, direction=direction, actor=actor
    ),
    anchor="group",
    prefix="group",
    create=lambda actor, data: catalog.group_create(actor=actor, **data),
    added=lambda group: f"Group {group.name} added.",
    list_page=lambda request, form, status: _page(request, group_form=form, status=status),
)
group_add = row_add_view(GROUPS)
group_edit = row_edit_view(GROUPS)
group_move = row_move_view(GROUPS)
group_remove = row_remove_view(GROUPS)
