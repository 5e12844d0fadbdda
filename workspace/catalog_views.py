"""Settings → Severities (and closing rules) and Settings → Services (teams,
services, owners), admins only. Every write is one call to ``workspace.catalog``."""

from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common.access import admin_required
from common.view_actions import act, form_submit
from incidents.models import Service, Severity, Team
from workspace import catalog, catalog_selectors
from workspace.catalog_forms import ServiceForm, SeverityForm, TeamForm
from workspace.status_page_views import edit_page

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


def _severity_page(request, severity, form, *, status=200):
    return render(
        request,
        "workspace/catalog_edit.html",
        {"title": str(severity), "form": form, "back": reverse("settings-severities")},
        status=status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def severity_edit(request, pk: int):
    severity = get_object_or_404(Severity, pk=pk)
    if request.method == "GET":
        form = SeverityForm(
            initial={field: getattr(severity, field) for field in SeverityForm.base_fields}
        )
        return _severity_page(request, severity, form)
    form = SeverityForm(request.POST)
    return form_submit(
        request,
        form,
        lambda data: catalog.severity_update(severity=severity, actor=request.user, **data),
        done=lambda _: f"{severity.code} saved.",
        then="settings-severities",
        again=lambda form, status: _severity_page(request, severity, form, status=status),
    )


@admin_required
@require_POST
def severity_move(request, pk: int):
    severity = get_object_or_404(Severity, pk=pk)
    return act(
        request,
        lambda: catalog.severity_move(
            severity=severity, direction=request.POST.get("direction", ""), actor=request.user
        ),
        then=reverse("settings-severities") + f"#severity-{severity.pk}",
    )


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


@admin_required
@require_POST
def team_add(request):
    form = TeamForm(request.POST, prefix="team")
    return form_submit(
        request,
        form,
        lambda data: catalog.team_create(actor=request.user, **data),
        done=lambda team: f"Team {team.name} added.",
        then="settings-services",
        again=lambda form, status: _services_page(request, team_form=form, status=status),
    )


def _team_edit_page(request, team, form, *, status=200):
    return edit_page(
        request,
        title=f"Team {team.name}",
        form=form,
        remove_url=reverse("settings-team-remove", args=[team.pk]),
        blockers=catalog.team_remove_blockers(team),
        back="settings-services",
        status=status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def team_edit(request, pk: int):
    team = get_object_or_404(Team, pk=pk)
    if request.method == "GET":
        form = TeamForm(
            team=team,
            initial={
                "name": team.name,
                "description": team.description,
                "members": list(team.members.all()),
            },
        )
        return _team_edit_page(request, team, form)
    form = TeamForm(request.POST, team=team)
    return form_submit(
        request,
        form,
        lambda data: catalog.team_update(team=team, actor=request.user, **data),
        done=lambda _: f"Team {team.name} saved.",
        then="settings-services",
        again=lambda form, status: _team_edit_page(request, team, form, status=status),
    )


@admin_required
@require_POST
def team_remove(request, pk: int):
    team = get_object_or_404(Team, pk=pk)
    return act(
        request,
        lambda: catalog.team_remove(team=team, actor=request.user),
        done=f"Team {team.name} removed.",
        then="settings-services",
        refused_then=reverse("settings-team-edit", args=[team.pk]),
    )


@admin_required
@require_POST
def service_add(request):
    form = ServiceForm(request.POST, prefix="service")
    return form_submit(
        request,
        form,
        lambda data: catalog.service_create(actor=request.user, **data),
        done=lambda service: f"Service {service.name} added.",
        then="settings-services",
        again=lambda form, status: _services_page(request, service_form=form, status=status),
    )


def _service_edit_page(request, service, form, *, status=200):
    return edit_page(
        request,
        title=f"Service {service.name}",
        form=form,
        remove_url=reverse("settings-service-remove", args=[service.pk]),
        blockers=catalog.service_remove_blockers(service),
        back="settings-services",
        status=status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def service_edit(request, pk: int):
    service = get_object_or_404(Service, pk=pk)
    if request.method == "GET":
        form = ServiceForm(
            service=service,
            initial={field: getattr(service, field) for field in ServiceForm.base_fields},
        )
        return _service_edit_page(request, service, form)
    form = ServiceForm(request.POST, service=service)
    return form_submit(
        request,
        form,
        lambda data: catalog.service_update(service=service, actor=request.user, **data),
        done=lambda _: f"Service {service.name} saved.",
        then="settings-services",
        again=lambda form, status: _service_edit_page(request, service, form, status=status),
    )


@admin_required
@require_POST
def service_remove(request, pk: int):
    service = get_object_or_404(Service, pk=pk)
    return act(
        request,
        lambda: catalog.service_remove(service=service, actor=request.user),
        done=f"Service {service.name} removed.",
        then="settings-services",
        refused_then=reverse("settings-service-edit", args=[service.pk]),
    )
