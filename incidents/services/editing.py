"""Editing an incident's fields (the declare form's fields, audited field by field)."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from common.exceptions import InvalidInput
from incidents.models import (
    Incident,
)
from incidents.services.base import (
    EDITABLE_FIELDS,
    Kind,
    Source,
    announce,
    audit,
    lock,
    require_driver,
    save,
    validate_patterns,
)
from incidents.timeline import timeline_record


@transaction.atomic
def incident_update(
    *, incident: Incident, actor, data: dict[str, Any], source: str = Source.WEB
) -> Incident:
    """Edit incident fields (never the stage). Writes one history row and one
    timeline event naming the fields changed; a severity change gets its own event."""
    require_driver(actor)
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(f"Not editable: {', '.join(sorted(unknown))}.", field=sorted(unknown)[0])
    incident = lock(incident)
    old_severity = incident.severity
    changed: list[str] = []
    services = data.pop("services", None)
    if "failure_patterns" in data:
        data["failure_patterns"] = validate_patterns(data["failure_patterns"] or [])
    for field, value in data.items():
        if getattr(incident, field) != value:
            setattr(incident, field, value)
            changed.append(field)
    if "started_at" in changed and incident.started_at > incident.detected_at:
        raise InvalidInput(
            "Impact cannot start after the incident was detected.", field="started_at"
        )
    services_changed = False
    if services is not None:
        services = list(services)
        current = set(incident.services.values_list("pk", flat=True))
        services_changed = current != {s.pk for s in services}
    if not changed and not services_changed:
        return incident
    reason = "edited " + ", ".join(changed + (["services"] if services_changed else []))
    audit(incident, actor=actor, reason=reason)
    if services_changed:
        incident.services.set(services)
    save(incident, actor=actor, reason=reason)
    now = timezone.now()
    if "severity" in changed:
        timeline_record(
            incident,
            kind=Kind.SEVERITY_CHANGED,
            actor=actor,
            source=source,
            text=f"Severity {old_severity.code} → {incident.severity.code}",
            data={"from": old_severity.code, "to": incident.severity.code},
            at=now,
        )
        announce(
            incident,
            kind="severity",
            message=f"Severity {old_severity.code} → {incident.severity.code}",
            actor=actor,
            source=source,
            previous_severity=old_severity,
        )
        changed.remove("severity")
    if services_changed:
        changed.append("services")
    if changed:
        timeline_record(
            incident,
            kind=Kind.FIELDS_CHANGED,
            actor=actor,
            source=source,
            text="Edited "
            + ", ".join(str(Incident._meta.get_field(f).verbose_name) for f in changed),
            data={"fields": changed},
            at=now,
        )
    return incident
