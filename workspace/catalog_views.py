"""Settings → Severities (and closing rules) and Settings → Services (teams,
services, owners), admins only. Every write is one call to ``workspace.catalog``;
the edit, remove and move views are built from the row editors' specs."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from common.access import admin_required
from incidents.models import Service, Severity, Team
from workspace import catalog, catalog_selectors
from workspace.catalog_forms import ServiceForm, SeverityForm, TeamForm
from workspace.row_editor_views import (
    RowEditor,
    row_add_view,
    row_edit_view,
    row_move_view,
    row_remove_view,
)

# The closing rules that are code, not data (incidents.lifecycle.closing_blockers and
# the check the postmortems app registers): shown so the page tells the whole story.
FIXED_CLOSING_RULES = [
    "An incident closes as resolved from the retrospect stage.",
    "Every action item of its postmortem (except won't do) has an owner and a due date.",
]


# ---- severities -----------------------------------------------------------------


@admin_required
@require_GET
def severities(request):
    return render(
        request,
        "workspace/severities.html",
        {"severities": catalog_selectors.severities_ranked(), "fixed_rules": FIXED_CLOSING_RULES},
    )


SEVERITIES = RowEditor(
    model=Severity,
    form=SeverityForm,
    title=str,
    back="settings-severities",
    initial=lambda severity: {
        field: getattr(severity, field) for field in SeverityForm.base_fields
    },
    update=lambda severity, actor, data: catalog.severity_update(
        severity=severity, actor=actor, **data
    ),
    saved=lambda severity: f"{severity.code} saved.",
    move=lambda severity, actor, direction: catalog.severity_move(
        severity=severity, direction=direction, actor=actor
    ),
    anchor="severity",
)
severity_edit = row_edit_view(SEVERITIES)
severity_move = row_move_view(SEVERITIES)


# ---- teams and services ---------------------------------------------------------


def _services_page(request, *, team_form=None, service_form=None, status=200):
    return render(
        request,
        "workspace/services.html",
        {
            "teams": catalog_selectors.teams_with_people(),
            "services": catalog_selectors.services_with_owners(),
            "team_form": team_form or TeamForm(prefix="team"),
            "service_form": service_form or ServiceForm(prefix="service"),
        },
        status=status,
    )


@admin_required
@require_GET
def services(request):
    return _services_page(request)


TEAMS = RowEditor(
    model=Team,
    form=TeamForm,
    title=lambda team: f"Team {team.name}",
    back="settings-services",
    initial=lambda team: {
        "name": team.name,
        "description": team.description,
        "members": list(team.members.all()),
    },
    form_kwargs=lambda team: {"team": team},
    update=lambda team, actor, data: catalog.team_update(team=team, actor=actor, **data),
    remove_url="settings-team-remove",
    edit_url="settings-team-edit",
    remove=lambda team, actor: catalog.team_remove(team=team, actor=actor),
    blockers=catalog.team_remove_blockers,
    prefix="team",
    create=lambda actor, data: catalog.team_create(actor=actor, **data),
    added=lambda team: f"Team {team.name} added.",
    list_page=lambda request, form, status: _services_page(request, team_form=form, status=status),
)
team_add = row_add_view(TEAMS)
team_edit = row_edit_view(TEAMS)
team_remove = row_remove_view(TEAMS)

SERVICES = RowEditor(
    model=Service,
    form=ServiceForm,
    title=lambda service: f"Service {service.name}",
    back="settings-services",
    initial=lambda service: {field: getattr(service, field) for field in ServiceForm.base_fields},
    form_kwargs=lambda service: {"service": service},
    update=lambda service, actor, data: catalog.service_update(
        service=service, actor=actor, **data
    ),
    remove_url="settings-service-remove",
    edit_url="settings-service-edit",
    remove=lambda service, actor: catalog.service_remove(service=service, actor=actor),
    blockers=catalog.service_remove_blockers,
    prefix="service",
    create=lambda actor, data: catalog.service_create(actor=actor, **data),
    added=lambda service: f"Service {service.name} added.",
    list_page=lambda request, form, status: _services_page(
        request, service_form=form, status=status
    ),
)
service_add = row_add_view(SERVICES)
service_edit = row_edit_view(SERVICES)
service_remove = row_remove_view(SERVICES)
