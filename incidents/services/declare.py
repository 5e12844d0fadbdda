"""Declaring an incident: the incident, its first timeline events, roles and history in one
transaction; the announcement after commit."""

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from common.exceptions import InvalidInput
from common.prefetch import forget_prefetched
from incidents import selectors
from incidents.lifecycle import Stage
from incidents.models import (
    INCIDENT_HISTORY,
    Incident,
    RoleAssignment,
    Service,
    Severity,
)
from incidents.services.base import Kind, Source, announce, open_role, require_driver, save
from incidents.timeline import timeline_record


@transaction.atomic
def incident_declare(
    *,
    title: str,
    severity: Severity,
    actor,
    summary: str = "",
    services: Iterable[Service] = (),
    started_at: datetime | None = None,
    detected_at: datetime | None = None,
    detection_source: str = "internal",
    private: bool = False,
    commander=None,
    source: str = Source.WEB,
) -> Incident:
    """Open an incident in **detect**. Writes the incident, its commander
    assignment, the "declared" event and the first history row."""
    require_driver(actor)
    now = timezone.now()
    detected_at = detected_at or now
    started_at = started_at or detected_at
    if detected_at > now:
        raise InvalidInput("Detection cannot be in the future.", field="detected_at")
    if started_at > detected_at:
        raise InvalidInput(
            "Impact cannot start after the incident was detected.", field="started_at"
        )
    commander = commander or actor
    incident = Incident(
        title=title,
        summary=summary,
        severity=severity,
        stage=Stage.DETECT,
        private=private,
        started_at=started_at,
        detected_at=detected_at,
        detected_by=actor,
        detection_source=detection_source,
        commander=commander,
        created_by=actor,
    )
    # One history row with the services: saved without it, the services inserted
    # without the many-to-many signals (each would write another row and read the
    # links back), then the row. A new incident meets the database's constraints by
    # construction but for the times, checked above with their own field errors.
    services = list(dict.fromkeys(services))
    incident.skip_history_when_saving = True
    save(incident, actor=actor, reason="declared", validate_constraints=False)
    del incident.skip_history_when_saving
    links = Incident.services.through
    links.objects.bulk_create(links(incident=incident, service=service) for service in services)
    INCIDENT_HISTORY.create_historical_record(incident, "+")
    # What the routing and the messages below read, without reading it back.
    selectors.incident_as_declared(incident, services=services)
    open_role(incident, role=RoleAssignment.Role.COMMANDER, user=commander, actor=actor, at=now)
    timeline_record(
        incident,
        kind=Kind.DECLARED,
        actor=actor,
        source=source,
        text=f"Declared {severity.code}: {title}",
        data={
            "severity": severity.code,
            "detection_source": detection_source,
            "services": [s.slug for s in services],
        },
        at=detected_at,
    )
    announce(
        incident,
        kind="declared",
        message=f"Declared {severity.code}: {title}" + (f"\n{summary}" if summary else ""),
        actor=actor,
        source=source,
    )
    # The caller's copy reads its relations afresh: later writes go through copies
    # of their own (locked rows), which would leave these caches stale.
    forget_prefetched(incident)
    del incident.first_decided_at
    return incident
