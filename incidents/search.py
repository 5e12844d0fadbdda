"""The pickers' searches: people and services, as JSON (frame: ``common.search``).

People are active users only (a deactivated account is never offered); ``?role=driver``
narrows to responders and admins, the people a review may be asked of. Services carry
no incident data, so no incident's visibility is involved: the answer is the same
catalogue every signed-in user sees in the service filter."""

from django.contrib.auth import get_user_model
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.http import HttpRequest

from common import roles
from common.search import SEARCH_RESULTS_MAX, match_all_words, search_endpoint
from incidents.models import Service

User = get_user_model()


def person_label(user) -> str:
    full_name = user.get_full_name()
    return f"{full_name} ({user.get_username()})" if full_name else user.get_username()


def people_matching(q: str, *, drivers_only: bool = False) -> QuerySet:
    """Active users whose username, first or last name contain every word of ``q``;
    usernames starting with ``q`` first, then by username."""
    queryset = match_all_words(
        User.objects.filter(is_active=True), q, ("username", "first_name", "last_name")
    )
    if drivers_only:
        queryset = queryset.filter(
            Q(is_superuser=True) | Q(groups__name__in=[roles.RESPONDERS, roles.ADMINS])
        ).distinct()
    prefix = Case(
        When(username__istartswith=q, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return queryset.annotate(prefix=prefix).order_by("prefix", "username")


def services_matching(q: str) -> QuerySet:
    """Services whose name or slug contain every word of ``q``; names starting with
    ``q`` first, then by name."""
    queryset = match_all_words(Service.objects.select_related("owner_team"), q, ("name", "slug"))
    prefix = Case(
        When(name__istartswith=q, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return queryset.annotate(prefix=prefix).order_by("prefix", "name")


@search_endpoint("people")
def people_search(request: HttpRequest, q: str) -> list[dict]:
    drivers_only = request.GET.get("role") == "driver"
    return [
        {"id": user.pk, "key": user.get_username(), "label": person_label(user), "detail": ""}
        for user in people_matching(q, drivers_only=drivers_only)[:SEARCH_RESULTS_MAX]
    ]


@search_endpoint("services")
def services_search(request: HttpRequest, q: str) -> list[dict]:
    return [
        {
            "id": service.pk,
            "key": service.slug,
            "label": service.name,
            "detail": service.owner_team.name if service.owner_team else "",
        }
        for service in services_matching(q)[:SEARCH_RESULTS_MAX]
    ]
