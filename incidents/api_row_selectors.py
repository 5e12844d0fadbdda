"""Reads for the API's incident rows (``incidents.api_rows`` writes them): a page of
the list, and the row of an incident the declare just wrote, built from what the write
holds. Plain values, no model instances: ~50 columns and their users per row were most
of the list's CPU."""

from collections import defaultdict
from types import SimpleNamespace

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Subquery

from incidents.models import Decision, Incident
from incidents.selectors import PEOPLE, SERVICE_ORDER
from incidents.visibility import incidents_visible_to


def _first_decision() -> Subquery:
    earliest = Decision.objects.filter(incident=OuterRef("pk")).order_by("decided_at", "pk")
    return Subquery(earliest.values("decided_at")[:1])


# The API list's columns: every column of the incident (``IncidentOutput`` writes
# nearly all), its severity's code and its trigger change's, read as values.
_INCIDENT_COLUMNS = tuple(field.attname for field in Incident._meta.concrete_fields)
_CHANGE_COLUMNS = {
    "preceding_change__kind": "kind",
    "preceding_change__reference": "reference",
    "preceding_change__deployed_by": "deployed_by",
    "preceding_change__deployed_at": "deployed_at",
    "preceding_change__url": "url",
    "preceding_change__source": "source",
    "preceding_change__title": "title",
    "preceding_change__created_at": "created_at",
    "preceding_change__service__slug": "service",
    "preceding_change__recorded_by__username": "recorded_by",
}


class IncidentApiRow(SimpleNamespace):
    """One incident of the API list (``incident_api_rows``): its columns by ``attname``
    (``severity_id``, ``commander_id``, ...) and ``pk``; ``severity_code``;
    ``first_decided_at``; ``change``, the trigger change as a dict (None without one);
    ``people``, {user id: username} of everyone it names; ``services`` (slugs, in their
    order), ``responders`` (usernames) and ``duplicates`` (ids the reader may see)."""


def incident_api_rows(pks: list[int], *, user) -> list[IncidentApiRow]:
    """The API list's rows: everything ``IncidentOutput`` writes, for one page only,
    as values (building ~50-column model instances, their users and services was most
    of the list's CPU).

    The incident row with its severity's code and its trigger change (three joins);
    the people every row names in one query for the whole page (as eleven joins onto
    every row the query took longer to plan than to run); services, responders and
    duplicates one query each."""
    found = list(
        Incident.objects.filter(pk__in=pks)
        .annotate(first_decided_at=_first_decision())
        .values(*_INCIDENT_COLUMNS, "severity__code", "first_decided_at", *_CHANGE_COLUMNS)
    )
    services = defaultdict(list)
    for incident_id, slug in (
        Incident.services.through.objects.filter(incident_id__in=pks)
        .order_by(*SERVICE_ORDER)
        .values_list("incident_id", "service__slug")
    ):
        services[incident_id].append(slug)
    responders = defaultdict(list)
    for incident_id, username in Incident.responders.through.objects.filter(
        incident_id__in=pks
    ).values_list("incident_id", "user__username"):
        responders[incident_id].append(username)
    # Duplicates the reader may see: a private one is not even counted.
    duplicates = defaultdict(list)
    for original, pk in (
        incidents_visible_to(user).filter(duplicate_of__in=pks).values_list("duplicate_of", "pk")
    ):
        duplicates[original].append(pk)
    ids = {values[f"{name}_id"] for values in found for name in PEOPLE}
    ids.discard(None)
    people = (
        dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))
        if ids
        else {}
    )
    rows = []
    for values in found:
        change = {short: values.pop(column) for column, short in _CHANGE_COLUMNS.items()}
        change["id"] = values["preceding_change_id"]
        pk = values["id"]
        values.update(
            pk=pk,
            severity_code=values.pop("severity__code"),
            change=change if change["id"] is not None else None,
            people=people,
            services=services[pk],
            responders=responders[pk],
            duplicates=duplicates[pk],
        )
        rows.append(IncidentApiRow(**values))
    return rows


def incident_declared_api_row(incident: Incident, *, services, user) -> IncidentApiRow:
    """``incident_api_rows``' row for the incident ``incident_declare`` just wrote, from
    what the write holds (its severity, services and people; no responders, duplicates
    or decisions yet): the API's answer without reading it back. A declare naming a
    trigger change reads the row as the list does."""
    if incident.preceding_change_id is not None:
        return incident_api_rows([incident.pk], user=user)[0]
    people, missing = {}, set()
    for name in PEOPLE:
        field = Incident._meta.get_field(name)
        pk = getattr(incident, field.attname)
        if pk is None:
            continue
        if field.is_cached(incident):
            people[pk] = field.get_cached_value(incident).get_username()
        else:
            missing.add(pk)
    if missing:
        people.update(get_user_model().objects.filter(pk__in=missing).values_list("pk", "username"))
    ordered = sorted(dict.fromkeys(services), key=lambda service: (service.tier, service.name))
    values = {column: getattr(incident, column) for column in _INCIDENT_COLUMNS}
    return IncidentApiRow(
        **values,
        pk=incident.pk,
        severity_code=incident.severity.code,
        first_decided_at=None,
        change=None,
        people=people,
        services=[service.slug for service in ordered],
        responders=[],
        duplicates=[],
    )
