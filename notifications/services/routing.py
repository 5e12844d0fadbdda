"""Which audiences an update reaches: the routes that match it, and what the
incident's visibility lets it tell."""

from django.db.models import Q

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
    # The incident's services as a subquery: the routes are read in one query, and
    # the services themselves only where a message names them (``rendering``).
    service_ids = Incident.services.through.objects.filter(incident_id=incident.pk).values(
        "service_id"
    )
    severity_ids = [incident.severity_id]
    if previous_severity is not None:
        severity_ids.append(previous_severity.pk)
    return audiences_matching(
        severity_ids=severity_ids,
        service_ids=service_ids,
        kind=kind,
        public=public,
    )


def audiences_matching(
    *, severity_ids: list[int], service_ids, kind: str, public: bool
) -> list[Audience]:
    """The routing rule itself: audiences whose active routes match these severities,
    services and update (also Settings' "who would be told?" preview)."""
    routes = (
        Route.objects.filter(active=True, audience__active=True)
        .filter(Q(severities__isnull=True) | Q(severities__in=severity_ids))
        .filter(Q(services__isnull=True) | Q(services__in=service_ids))
        .select_related("audience")
        .distinct()
    )
    chosen: dict[int, Audience] = {}
    for route in routes:
        if route.update_kinds and kind not in route.update_kinds:
            continue
        if route.only_public_updates and not public:
            continue
        chosen[route.audience_id] = route.audience
    return sorted(chosen.values(), key=lambda audience: audience.pk)


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
