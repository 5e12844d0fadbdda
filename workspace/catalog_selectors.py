"""Reads of Settings → Status page, Severities and Services."""

from dataclasses import dataclass

from django.db.models import Count, Prefetch, QuerySet

from incidents.models import Service, Severity, Team
from statuspage.models import Component, ComponentGroup


@dataclass(frozen=True)
class CatalogGroup:
    group: ComponentGroup | None  # None: the components outside any group
    components: list[Component]
    is_last_group: bool = False


def status_page_catalog() -> list[CatalogGroup]:
    """The groups in page order with their components, then the ungrouped ones
    (as the public page lists them); three queries."""
    with_services = Component.objects.prefetch_related(
        Prefetch("services", queryset=Service.objects.order_by("name"))
    ).order_by("position", "name")
    groups = ComponentGroup.objects.prefetch_related(
        Prefetch("components", queryset=with_services, to_attr="ordered")
    ).order_by("position", "name")
    groups = list(groups)
    catalog = [
        CatalogGroup(group, group.ordered, is_last_group=index == len(groups) - 1)
        for index, group in enumerate(groups)
    ]
    catalog.append(CatalogGroup(None, list(with_services.filter(group__isnull=True))))
    return catalog


def severities_ranked() -> QuerySet[Severity]:
    return Severity.objects.annotate(incident_count=Count("incidents")).order_by("rank")


def teams_with_people() -> QuerySet[Team]:
    return Team.objects.prefetch_related("members", "services").order_by("name")


def services_with_owners() -> QuerySet[Service]:
    return Service.objects.select_related("owner_team").annotate(incident_count=Count("incidents"))
