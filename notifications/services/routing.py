"""Which audiences an update reaches: the routes that match it, and what the
incident's visibility lets it tell."""

import functools

from django.db import connection

from common.exceptions import InvalidInput
from incidents.models import Incident, Severity
from incidents.visibility import may_tell_audiences
from notifications.models import (
    Audience,
    Route,
)

PUBLIC_AUDIENCE = "public"


BUSINESS_AUDIENCE = "business"


def audiences_routed(
    *, incident: Incident, kind: str, public: bool, previous_severity: Severity | None = None
) -> list[Audience]:
    """Audiences whose active routes match the incident's severity, services and the update.

    A severity change also matches the routes of the severity it left
    (``previous_severity``): an audience told about a SEV2 hears that it is now a SEV3.
    A private incident (e.g. security) is routed nowhere: its title must not reach
    shared channels and lists unless a responder addresses an audience deliberately."""
    if incident.private:
        return []
    severity_ids = [incident.severity_id]
    if previous_severity is not None:
        severity_ids.append(previous_severity.pk)
    # The incident's services as a subquery: the routes are read in one query, and
    # the services themselves only where a message names them (``rendering``).
    names = _names()
    services = (
        f"SELECT {names['link_service']} FROM {names['links']} WHERE {names['link_incident']} = %s",
        [incident.pk],
    )
    return _audiences_matching(severity_ids, services, kind=kind, public=public)


def audiences_matching(
    *, severity_ids: list[int], service_ids: list[int], kind: str, public: bool
) -> list[Audience]:
    """The routing rule itself: audiences whose active routes match these severities,
    services and update (also Settings' "who would be told?" preview)."""
    services = (", ".join(["%s"] * len(service_ids)) or "NULL", list(service_ids))
    return _audiences_matching(severity_ids, services, kind=kind, public=public)


@functools.cache
def _names() -> dict[str, str]:
    """The tables and columns the routing statement names, from the models."""
    quote = connection.ops.quote_name
    route = Route._meta
    severities = route.get_field("severities").remote_field.through._meta
    services = route.get_field("services").remote_field.through._meta
    links = Incident.services.through._meta

    def column(meta, name: str) -> str:
        return quote(meta.get_field(name).column)

    return {
        "route": quote(route.db_table),
        "route_id": column(route, "id"),
        "route_audience": column(route, "audience"),
        "route_active": column(route, "active"),
        "route_kinds": column(route, "update_kinds"),
        "route_public": column(route, "only_public_updates"),
        "audience": quote(Audience._meta.db_table),
        "audience_id": column(Audience._meta, "id"),
        "audience_active": column(Audience._meta, "active"),
        "severities": quote(severities.db_table),
        "severity_route": column(severities, "route"),
        "severity": column(severities, "severity"),
        "services": quote(services.db_table),
        "service_route": column(services, "route"),
        "service": column(services, "service"),
        "links": quote(links.db_table),
        "link_incident": column(links, "incident"),
        "link_service": column(links, "service"),
    }


def _audiences_matching(
    severity_ids: list[int], services: tuple[str, list], *, kind: str, public: bool
) -> list[Audience]:
    """Audiences, in id order, with an active route that names none of the
    severities or one of ``severity_ids``, none of the services or one of
    ``services`` (SQL and its parameters), and matches the update's kind and
    publicness.

    One statement written out: the ORM spent ~1.5 ms of Python building it (two
    many-to-many joins and ``DISTINCT``) on every declare, update and stage move,
    several times what the database takes to run it."""
    n = _names()
    services_sql, services_params = services
    severity_params = ", ".join(["%s"] * len(severity_ids))
    sql = f"""
        SELECT a.*, r.{n["route_kinds"]} AS route_update_kinds,
               r.{n["route_public"]} AS route_only_public
        FROM {n["route"]} r
        INNER JOIN {n["audience"]} a ON a.{n["audience_id"]} = r.{n["route_audience"]}
        WHERE r.{n["route_active"]} AND a.{n["audience_active"]}
          AND (NOT EXISTS (SELECT 1 FROM {n["severities"]} s
                           WHERE s.{n["severity_route"]} = r.{n["route_id"]})
               OR EXISTS (SELECT 1 FROM {n["severities"]} s
                          WHERE s.{n["severity_route"]} = r.{n["route_id"]}
                            AND s.{n["severity"]} IN ({severity_params})))
          AND (NOT EXISTS (SELECT 1 FROM {n["services"]} v
                           WHERE v.{n["service_route"]} = r.{n["route_id"]})
               OR EXISTS (SELECT 1 FROM {n["services"]} v
                          WHERE v.{n["service_route"]} = r.{n["route_id"]}
                            AND v.{n["service"]} IN ({services_sql})))
        ORDER BY a.{n["audience_id"]}, r.{n["route_id"]}
    """
    kinds_field = Route._meta.get_field("update_kinds")
    chosen: dict[int, Audience] = {}
    for row in Audience.objects.raw(sql, [*severity_ids, *services_params]):
        kinds = kinds_field.from_db_value(row.route_update_kinds, None, connection)
        if kinds and kind not in kinds:
            continue
        if row.route_only_public and not public:
            continue
        chosen.setdefault(row.pk, row)
    return list(chosen.values())


def audiences_permitted(
    *,
    incident: Incident,
    audiences: list[Audience],
    kind: str,
    actor,
    source: str,
    addressed: bool,
) -> tuple[list[Audience], list[Audience]]:
    """``(allowed, withheld)`` under the private-incident rule of ``incidents.visibility``."""
    if not audiences or may_tell_audiences(
        incident=incident, kind=kind, actor=actor, source=source, addressed=addressed
    ):
        return list(audiences), []
    return [], list(audiences)


def chosen_audiences(
    *, incident: Incident, audiences, kind: str, public_status: str, audience_rows=None
):
    if audience_rows is not None:
        return list(audience_rows)
    if audiences is None:
        return audiences_routed(incident=incident, kind=kind, public=bool(public_status))
    if not isinstance(audiences, list | tuple):
        raise InvalidInput("audiences must be a list of audience slugs.", field="audiences")
    found = {a.slug: a for a in Audience.objects.filter(slug__in=audiences, active=True)}
    unknown = sorted(set(audiences) - set(found))
    if unknown:
        valid = ", ".join(Audience.objects.filter(active=True).values_list("slug", flat=True))
        raise InvalidInput(
            f"Unknown audience(s): {', '.join(unknown)}. Valid audiences: {valid}.",
            field="audiences",
        )
    return [found[slug] for slug in dict.fromkeys(audiences)]
