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
    written = links.objects.bulk_create(
        links(incident=incident, service=service) for service in services
    )
    _first_history_row(incident, written)
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


# The history rows' model, looked up once: ``Incident.history`` makes a manager class
# (``from_queryset``) on every access.
_HISTORICAL_INCIDENT = Incident.history.model


def _first_history_row(incident: Incident, links: list) -> None:
    """The declare's one history row and its services' rows, from the links just
    written. simple-history's ``create_historical_record`` writes the same rows (the
    incident's fields, the user and reason named by ``save``, a row per link of each
    tracked many-to-many field) but first reads every link back, services and
    responders (none yet), with their incident rows: two queries."""
    records = INCIDENT_HISTORY
    row = _HISTORICAL_INCIDENT(
        history_date=getattr(incident, "_history_date", timezone.now()),
        history_type="+",
        history_user=records.get_history_user(incident),
        history_change_reason=records.get_change_reason_for_object(incident, "+", None),
        **{
            field.attname: getattr(incident, field.attname)
            for field in records.fields_included(incident)
        },
    )
    row.save()
    service_rows = records.m2m_models[Incident._meta.get_field("services")]
    service_rows.objects.bulk_create(
        service_rows(history=row, id=link.pk, incident_id=incident.pk, service_id=link.service_id)
        for link in links
    )
