"""Routing in words: each route as a sentence, and "who would be told?" for a
severity, a service and a kind of update (the routing rule itself:
``notifications.services.audiences_matching``)."""

from django import forms
from django.db.models import Prefetch, QuerySet

from common.validators import single_line
from incidents.models import Service, Severity
from notifications.models import Audience, Destination, Route, UpdateKind
from notifications.routes import NAME_MAX, ROUTABLE_KINDS
from notifications.services import audiences_matching


def _either(words: list[str]) -> str:
    if len(words) <= 2:
        return " or ".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def _kinds(codes: list[str]) -> list[str]:
    labels = dict(UpdateKind.choices)
    return [labels.get(code, code).lower() for code in codes]


def route_sentence(route: Route) -> str:
    """E.g. "SEV1 or SEV2 on any service, on incident declared: Business team"."""
    severities = [s.code for s in route.severities.all()]
    services = [s.name for s in route.services.all()]
    what = _either(severities) if severities else "Any severity"
    where = f"on {_either(services)}" if services else "on any service"
    when = f"on {_either(_kinds(route.update_kinds))}" if route.update_kinds else "on every update"
    if route.only_public_updates:
        when += " that carries a public status"
    return f"{what} {where}, {when}: {route.audience.name}"


def routes_in_words() -> QuerySet[Route]:
    return Route.objects.select_related("audience").prefetch_related(
        Prefetch("severities", queryset=Severity.objects.order_by("code")),
        Prefetch("services", queryset=Service.objects.order_by("name")),
    )


class PreviewForm(forms.Form):
    severity = forms.ModelChoiceField(
        label="Severity", queryset=Severity.objects.order_by("code"), to_field_name="code"
    )
    service = forms.ModelChoiceField(
        label="Service",
        queryset=Service.objects.order_by("name"),
        required=False,
        empty_label="(no service)",
    )
    kind = forms.ChoiceField(
        label="Update",
        choices=[(k.value, k.label) for k in UpdateKind if k != UpdateKind.PERSONAL],
        initial=UpdateKind.DECLARED,
    )
    public = forms.BooleanField(label="Carries a public status", required=False)


def who_would_be_told(*, severity: Severity, service: Service | None, kind: str, public: bool):
    """The audiences routed, each with its team destinations (for the preview)."""
    audiences = audiences_matching(
        severity_ids=[severity.pk],
        service_ids=[service.pk] if service else [],
        kind=kind,
        public=public,
    )
    destinations: dict[int, list[Destination]] = {}
    rows = Destination.objects.filter(audience__in=audiences, user__isnull=True)
    for destination in rows.order_by("name"):
        destinations.setdefault(destination.audience_id, []).append(destination)
    return [(audience, destinations.get(audience.pk, [])) for audience in audiences]


class RouteForm(forms.Form):
    """A routing rule in the words of its sentence (empty filters match everything)."""

    name = forms.CharField(label="Name", max_length=NAME_MAX, validators=[single_line])
    audience = forms.ModelChoiceField(
        label="Tell",
        queryset=Audience.objects.filter(active=True),
        empty_label="(choose)",
        error_messages={"required": "Choose the audience this rule tells."},
    )
    severities = forms.ModelMultipleChoiceField(
        label="Severities",
        queryset=Severity.objects.order_by("code"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any severity.",
    )
    services = forms.ModelMultipleChoiceField(
        label="Services",
        queryset=Service.objects.order_by("name"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="None chosen: any service. Ctrl/⌘-click to choose several.",
    )
    update_kinds = forms.MultipleChoiceField(
        label="Updates",
        choices=[(kind, UpdateKind(kind).label) for kind in ROUTABLE_KINDS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every update.",
    )
    only_public_updates = forms.BooleanField(
        label="Only updates that carry a public status", required=False
    )
    active = forms.BooleanField(label="Active", required=False, initial=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not Service.objects.exists():  # an empty list box says nothing: leave it out
            del self.fields["services"]


def route_initial(route: Route) -> dict:
    return {
        "name": route.name,
        "audience": route.audience_id,
        "severities": [severity.pk for severity in route.severities.all()],
        "services": [service.pk for service in route.services.all()],
        "update_kinds": route.update_kinds,
        "only_public_updates": route.only_public_updates,
        "active": route.active,
    }
