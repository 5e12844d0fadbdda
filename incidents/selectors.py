"""Reads: querysets with their joins set up, filtered by what the user may see."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import (
    Exists,
    Expression,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
)

from common.prefetch import cache_prefetched
from incidents import lifecycle

# The audit trail lives in incidents.history, the visibility rule in incidents.visibility;
# both re-exported for their many readers.
from incidents.models import (
    Decision,
    Incident,
    RoleAssignment,
    Service,
    Severity,
    TimelineEvent,
)
from incidents.visibility import (
    can_see,
    incidents_listed_to,
    incidents_visible_to,
    private_incidents_hidden_from,
)

STAGE_ACTORS = (
    *(
        f"{stage}_by"
        for stage in ("detected", "propagated", "judged", "recovered", "analyzed", "shared")
    ),
    "retrospected_by",
    "closed_by",
)


def incident_durations(incident: Incident, *, now: datetime) -> lifecycle.Durations:
    """The lifecycle durations; time to decide needs the first decision, which the
    selectors annotate (``first_decided_at``), else it is read here."""
    if hasattr(incident, "first_decided_at"):
        first = incident.first_decided_at
    else:
        first = (
            Decision.objects.filter(incident=incident)
            .order_by("decided_at", "pk")
            .values_list("decided_at", flat=True)
            .first()
        )
    return lifecycle.durations(incident, now=now, first_decision_at=first)


# The lists' order: newest first, served by the index ``incident_newest_first`` (and
# its partial twin for open incidents); a unique last key makes it a keyset.
INCIDENT_LIST_ORDER = ("-detected_at", "-pk")


def incident_list(*, user, filters: dict | None = None) -> QuerySet[Incident]:
    """The incidents ``user`` may see, newest first; filters as the API names them.

    No joins: page it with ``common.keyset.paginate`` (``INCIDENT_LIST_ORDER``) and
    load the page's rows with ``incident_list_rows`` or ``incident_api_rows``. Every
    filter is one an index serves: the service is an ``Exists`` on the link table (no
    join, no ``DISTINCT``), the text search an ``icontains`` the trigram indexes on
    ``UPPER(title)``/``UPPER(summary)`` answer on PostgreSQL (a plain substring match
    on SQLite)."""
    filters = filters or {}
    queryset = incidents_listed_to(user)
    if stage := filters.get("stage"):
        queryset = queryset.filter(stage=stage)
    if severity := filters.get("severity"):
        queryset = queryset.filter(
            severity__in=Severity.objects.filter(code__iexact=severity).values("pk")
        )
    if service := filters.get("service"):
        linked = Incident.services.through.objects.filter(
            incident=OuterRef("pk"), service__slug=service
        )
        queryset = queryset.filter(Exists(linked))
    open_filter = filters.get("open")
    if open_filter is True:
        queryset = queryset.filter(closed_at__isnull=True)
    elif open_filter is False:
        queryset = queryset.filter(closed_at__isnull=False)
    if search := (filters.get("search") or "").strip():
        text = Q(title__icontains=search) | Q(summary__icontains=search)
        number = search.lstrip("#")
        # isdigit() alone accepts "²" and other digits int() refuses; bound it to a bigint.
        if number.isascii() and number.isdigit() and int(number) < 2**63:
            text |= Q(pk=int(number))
        queryset = queryset.filter(text)
    return queryset.order_by(*INCIDENT_LIST_ORDER)


def incident_filters_narrow(filters: dict | None) -> bool:
    """Whether ``filters`` leave few incidents whatever the history's length (a text
    search): ``common.keyset.paginate`` then counts them and takes the page's keys in
    one query. Not a service: its count reads only the link table's index, and its
    keys walk the newest-first index until a page is found, where sorting every
    linked incident read each one's row."""
    filters = filters or {}
    return bool((filters.get("search") or "").strip())


def incident_list_counted(*, user, filters: dict | None = None) -> QuerySet | None:
    """What counts ``incident_list``'s rows for a service filter alone: the service's
    links but those to private incidents hidden from ``user``, one per incident, read
    from the link table's index (counting the incidents read each linked one's row).
    None for any other filters: the list itself is counted."""
    given = {name for name, value in (filters or {}).items() if value not in (None, "")}
    if given != {"service"}:
        return None
    return Incident.services.through.objects.filter(service__slug=filters["service"]).exclude(
        incident_id__in=private_incidents_hidden_from(user).values("pk")
    )


# The columns the list page's table shows, read as values: the incident row has ~50
# columns (a dozen of them datetimes), and building model instances of 50 incidents,
# their severities and commanders cost more than the query.
LIST_ROW_FIELDS = (
    "pk",
    "title",
    "private",
    "stage",
    "outcome",
    "duplicate_of",
    "detected_at",
    "closed_at",
    "severity__code",
    "severity__name",
    "severity__rank",
    "commander__username",
    "commander__first_name",
    "commander__last_name",
)


@dataclass(frozen=True, slots=True)
class IncidentListRow:
    """One incident of the list page (``incident_list_rows``): what its table shows."""

    pk: int
    title: str
    private: bool
    stage: str
    outcome: str
    duplicate_of_id: int | None
    detected_at: datetime
    closed_at: datetime | None
    severity_code: str
    severity_name: str
    severity_rank: int
    commander_username: str | None
    commander_first_name: str | None
    commander_last_name: str | None
    services: tuple[str, ...]  # their names, in their order (tier, name)


SERVICE_ORDER = ("service__tier", "service__name", "service_id")


def _services_of(pks: list[int]) -> dict[int, list]:
    """{incident id: its services in their order (tier, name)}: one query on the link table."""
    links = (
        Incident.services.through.objects.filter(incident_id__in=pks)
        .select_related("service")
        .order_by(*SERVICE_ORDER)
    )
    found = defaultdict(list)
    for link in links:
        found[link.incident_id].append(link.service)
    return found


class _ServiceNames(Expression):
    """An incident's service names in their order (``SERVICE_ORDER``) as a JSON array, read
    with the incident's row: a correlated subquery of the link table, aggregated where
    PostgreSQL and SQLite differ (``jsonb_agg`` with an order, ``json_group_array``
    over an ordered subquery)."""

    output_field = JSONField()

    def _parts(self, compiler):
        quote = compiler.quote_name_unless_alias
        links = quote(Incident.services.through._meta.db_table)
        service = quote(Service._meta.db_table)
        incident = quote(Incident._meta.db_table)
        source = (
            f"FROM {links} l INNER JOIN {service} s ON s.id = l.service_id "
            f"WHERE l.incident_id = {incident}.id"
        )
        return source, "s.tier, s.name, s.id"

    def as_sql(self, compiler, connection):
        source, order = self._parts(compiler)
        return f"(SELECT json_group_array(name) FROM (SELECT s.name {source} ORDER BY {order}))", []

    def as_postgresql(self, compiler, connection):
        source, order = self._parts(compiler)
        return f"(SELECT COALESCE(jsonb_agg(s.name ORDER BY {order}), '[]') {source})", []


def incident_list_rows(pks: list[int]) -> list[IncidentListRow]:
    """The list page's rows: only what its table shows (severity, commander, services),
    in one query."""
    return [
        IncidentListRow(*values[:-1], services=tuple(values[-1]))
        for values in Incident.objects.filter(pk__in=pks)
        .annotate(service_names=_ServiceNames())
        .values_list(*LIST_ROW_FIELDS, "service_names")
    ]


# Every person the incident row names: loaded in one query rather than eleven joins
# onto the incident row, which took longer to plan than to run.
PEOPLE = (*STAGE_ACTORS, "commander", "communications_lead", "scribe", "created_by")


def incident_detail(*, user, pk: int) -> Incident:
    """One incident with everything its page and its API answer show, in six queries
    whatever it holds (one more when it is private, one more when one of its duplicates
    is); the timeline is read apart (``timeline_latest``), or with it (``incident_page``).

    The incident (severity, trigger change joined), its services, the duplicates the
    reader may see, its decisions, its role assignments, and every person all of
    them name with the responders among them (``_people_of``), each left where
    ``prefetch_related``/``select_related`` would have: Django's prefetch built a
    filtered queryset per relation and joined a user per row, the larger part of the
    page's reads."""
    return _incident_loaded(user, _incident_row(pk))[0]


def incident_page(*, user, pk: int, events: int) -> tuple[Incident, "TimelinePage"]:
    """``incident_detail`` and its latest ``events`` timeline events (``timeline_latest``
    reads the same), in one query more (the events, no user joined to them): the people
    they name are read with the incident's (a timeline names the same few fifty times)."""
    return _incident_loaded(user, _incident_row(pk), events=events)


def _incident_row(pk: int) -> Incident:
    return Incident.objects.select_related(
        "severity",
        "preceding_change",
        "preceding_change__service",
        "preceding_change__recorded_by",
    ).get(pk=pk)


def _incident_loaded(user, incident: Incident, *, events: int = 0):
    """``(incident, its latest events or None)`` with what ``incident_detail`` says."""
    # The visibility rule asked of the row itself: no query for a public incident (the
    # rule's two ``Exists`` cost more to compile than the row to read), one for a
    # private one.
    if not can_see(user, incident):
        raise Incident.DoesNotExist("No such incident.")
    duplicates = list(
        Incident.objects.filter(duplicate_of=incident.pk).only(
            "pk", "title", "duplicate_of", "private"
        )
    )
    if any(duplicate.private for duplicate in duplicates):
        # Duplicates the reader may see: a private one is not even counted.
        duplicates = list(
            incidents_visible_to(user)
            .filter(duplicate_of=incident.pk)
            .only("pk", "title", "duplicate_of", "private")
        )
    decisions = list(Decision.objects.filter(incident=incident))
    assignments = list(RoleAssignment.objects.filter(incident=incident))
    timeline = None
    if events:
        latest = list(
            TimelineEvent.objects.filter(incident=incident).order_by(*TIMELINE_ORDER)[: events + 1]
        )
        timeline = TimelinePage(events=latest[:events], has_older=len(latest) > events)
    named = {getattr(incident, f"{name}_id") for name in PEOPLE}
    named.update(decision.decided_by_id for decision in decisions)
    for assignment in assignments:
        named.update((assignment.user_id, assignment.assigned_by_id))
    for event in timeline.events if timeline else ():
        named.update((event.actor_id, event.edited_by_id, event.struck_by_id))
    people, responders = _people_of(incident, named)
    if timeline:
        event_people = [TimelineEvent._meta.get_field(name) for name in EVENT_PEOPLE]
        for event in timeline.events:
            event.incident = incident
            for field in event_people:
                field.set_cached_value(event, people.get(getattr(event, field.attname)))
    for name in PEOPLE:
        setattr(incident, name, people.get(getattr(incident, f"{name}_id")))
    _link_decisions(incident, decisions, people)
    user_field, assigned_by_field = (
        RoleAssignment._meta.get_field(name) for name in ("user", "assigned_by")
    )
    for assignment in assignments:
        assignment.incident = incident
        user_field.set_cached_value(assignment, people.get(assignment.user_id))
        assigned_by_field.set_cached_value(assignment, people.get(assignment.assigned_by_id))
    cache_prefetched(incident, "services", _services_of([incident.pk])[incident.pk])
    cache_prefetched(incident, "responders", responders)
    cache_prefetched(incident, "duplicates", duplicates)
    cache_prefetched(incident, "decisions", decisions)
    cache_prefetched(incident, "role_assignments", assignments)
    # Time to decide needs the first decision: the decisions are in their order.
    incident.first_decided_at = decisions[0].decided_at if decisions else None
    return incident, timeline


def _people_of(incident: Incident, ids: set) -> tuple[dict, list]:
    """``({user id: user}, the responders)``: the users ``ids`` name and the incident's
    responders (by id, the order their join to the links gave), in one query."""
    links = Incident.responders.through.objects.filter(incident_id=incident.pk)
    ids.discard(None)
    users = (
        get_user_model()
        .objects.filter(Q(pk__in=ids) | Q(pk__in=links.values("user_id")))
        .annotate(is_responder=Exists(links.filter(user_id=OuterRef("pk"))))
        .order_by("pk")
    )
    people = {person.pk: person for person in users}
    return people, [person for person in people.values() if person.is_responder]


def _link_decisions(incident: Incident, decisions: list[Decision], people: dict) -> None:
    """Fill in what ``select_related("decided_by", "supersedes", "superseded_by")``
    would: a decision supersedes only one of its incident's (``decision_record``)."""
    by_pk = {decision.pk: decision for decision in decisions}
    fields = {name: Decision._meta.get_field(name) for name in ("decided_by", "supersedes")}
    superseded_by = Decision._meta.get_field("superseded_by")
    for decision in decisions:
        decision.incident = incident
        fields["decided_by"].set_cached_value(decision, people.get(decision.decided_by_id))
        superseded_by.set_cached_value(decision, None)
    for decision in decisions:
        earlier = by_pk.get(decision.supersedes_id)
        if decision.supersedes_id is None or earlier is not None:
            fields["supersedes"].set_cached_value(decision, earlier)
        if earlier is not None:
            superseded_by.set_cached_value(earlier, decision)


def incident_as_declared(incident: Incident, *, services) -> Incident:
    """The incident ``incident_declare`` just wrote, with what ``incident_detail``
    would read filled in from what the write holds (its services; no responders,
    duplicates or decisions yet): the answer is built without reading it back."""
    services = sorted(dict.fromkeys(services), key=lambda service: (service.tier, service.name))
    cache_prefetched(incident, "services", services)
    cache_prefetched(incident, "responders", [])
    cache_prefetched(incident, "duplicates", [])
    incident.first_decided_at = None
    return incident


EVENT_PEOPLE = ("actor", "edited_by", "struck_by")
# The page's order: newest first, ties by id (the index ``timeline_incident_order``).
TIMELINE_ORDER = ("-occurred_at", "-pk")


def timeline_for(*, incident: Incident) -> QuerySet[TimelineEvent]:
    return TimelineEvent.objects.filter(incident=incident).select_related(*EVENT_PEOPLE)


@dataclass(frozen=True)
class TimelinePage:
    events: list[TimelineEvent]  # newest first
    has_older: bool

    @property
    def oldest(self) -> TimelineEvent | None:
        return self.events[-1] if self.events else None


def timeline_latest(*, incident: Incident, limit: int, before: int | None = None) -> TimelinePage:
    """The ``limit`` latest events, newest first, or the ``limit`` before the event
    ``before`` (an event of this incident; another id reads as the latest). Two
    queries at most, whatever the timeline's length."""
    events = timeline_for(incident=incident).order_by(*TIMELINE_ORDER)
    if before is not None:
        cursor = TimelineEvent.objects.filter(incident=incident, pk=before).values_list(
            "occurred_at", "pk"
        )
        at_and_pk = cursor.first()
        if at_and_pk is not None:
            at, pk = at_and_pk
            events = events.filter(Q(occurred_at__lt=at) | Q(occurred_at=at, pk__lt=pk))
    page = list(events[: limit + 1])
    return TimelinePage(events=page[:limit], has_older=len(page) > limit)


def stages_time_corrected(*, incident: Incident) -> set[str]:
    """The stages whose time was corrected (the stepper marks them)."""
    # The events' data whole, its stage picked here: the JSON key transform cost more
    # to compile than the few rows to read.
    corrections = TimelineEvent.objects.filter(
        incident=incident, kind=TimelineEvent.Kind.STAGE_TIME_CORRECTED
    ).values_list("data", flat=True)
    return {data.get("stage") if isinstance(data, dict) else None for data in corrections}


def severities() -> QuerySet[Severity]:
    return Severity.objects.order_by("rank")
