"""The API incidents list's rows as plain dicts: what ``IncidentOutput`` writes for an
incident (the schema still names it), built from the values ``api_row_selectors.incident_api_rows``
read, without model instances or a serializer walking ~50 fields per row (most of the
list's CPU).
``tests/incidents/test_api_rows.py`` holds the two to the same JSON."""

from django.utils import timezone
from rest_framework import serializers

from common.api_fields import api_time
from incidents import lifecycle, selectors
from incidents.api_row_selectors import IncidentApiRow
from incidents.lifecycle import Stage
from incidents.models import Incident

# The DRF fields whose output is not the value itself: amounts as strings with their
# decimal places (times: ``api_time``).
_DECIMALS = {
    name: serializers.DecimalField(
        max_digits=Incident._meta.get_field(name).max_digits,
        decimal_places=Incident._meta.get_field(name).decimal_places,
    )
    for name in ("affected_users_percent", "estimated_loss", "compensation")
}
# (stage, label, its time's column, its actor's column)
_STAGE_FIELDS = tuple(
    (stage.value, str(stage.label), at_field, f"{by_field}_id")
    for stage in Stage
    for at_field, by_field in [lifecycle.STAGE_FIELDS[stage]]
)


def _decimal(row, name: str) -> str | None:
    value = getattr(row, name)
    return None if value is None else _DECIMALS[name].to_representation(value)


def _seconds(delta) -> int | None:
    return None if delta is None else int(delta.total_seconds())


def _change(change: dict | None, zone) -> dict | None:
    if change is None:
        return None
    return {
        "id": change["id"],
        "service": change["service"],
        "kind": change["kind"],
        "version": change["reference"],
        "who": change["deployed_by"],
        "at": api_time(change["deployed_at"], zone),
        "link": change["url"],
        "source": change["source"],
        "title": change["title"],
        "recorded_by": change["recorded_by"],
        "created_at": api_time(change["created_at"], zone),
    }


def incident_row(incident: IncidentApiRow, *, now, zone) -> dict:
    """``IncidentOutput(incident).data`` for an incident read by ``incident_api_rows``
    (``zone``: the reader's, as ``timezone.get_current_timezone()`` gives it)."""
    durations = selectors.incident_durations(incident, now=now)
    is_open = incident.closed_at is None
    people = incident.people
    return {
        "id": incident.pk,
        "title": incident.title,
        "summary": incident.summary,
        "severity": incident.severity_code,
        "stage": incident.stage,
        "is_open": is_open,
        "private": incident.private,
        "started_at": api_time(incident.started_at, zone),
        "detected_at": api_time(incident.detected_at, zone),
        "propagated_at": api_time(incident.propagated_at, zone),
        "judged_at": api_time(incident.judged_at, zone),
        "recovered_at": api_time(incident.recovered_at, zone),
        "analyzed_at": api_time(incident.analyzed_at, zone),
        "shared_at": api_time(incident.shared_at, zone),
        "retrospected_at": api_time(incident.retrospected_at, zone),
        "closed_at": api_time(incident.closed_at, zone),
        "outcome": incident.outcome,
        "outcome_reason": incident.outcome_reason,
        "duplicate_of": incident.duplicate_of_id,
        "duplicates": sorted(incident.duplicates),
        "reopened_count": incident.reopened_count,
        "stages": [
            {
                "stage": stage,
                "label": label,
                "reached_at": api_time(getattr(incident, at_field), zone),
                "reached_by": people.get(getattr(incident, by_field)),
            }
            for stage, label, at_field, by_field in _STAGE_FIELDS
        ],
        "durations": {
            "time_to_detect_seconds": _seconds(durations.time_to_detect),
            "time_to_propagate_seconds": _seconds(durations.time_to_propagate),
            "time_to_decide_seconds": _seconds(durations.time_to_decide),
            "time_to_recover_seconds": _seconds(durations.time_to_recover),
            "not_measured": str(durations.not_measured),
        },
        "allowed_stages": lifecycle.allowed_targets(current=incident.stage, closed=not is_open),
        "detection_source": incident.detection_source,
        "detected_before_customers": incident.detected_before_customers,
        "affected_users_count": incident.affected_users_count,
        "affected_users_percent": _decimal(incident, "affected_users_percent"),
        "services": list(incident.services),
        "affected_features": incident.affected_features,
        "estimated_loss": _decimal(incident, "estimated_loss"),
        "compensation": _decimal(incident, "compensation"),
        "sla_minutes_breached": incident.sla_minutes_breached,
        "category": incident.category,
        "failure_patterns": incident.failure_patterns,
        "commander": people.get(incident.commander_id),
        "communications_lead": people.get(incident.communications_lead_id),
        "scribe": people.get(incident.scribe_id),
        "responders": sorted(incident.responders),
        "preceding_change": incident.preceding_change_id,
        "trigger_change": _change(incident.change, zone),
        "created_at": api_time(incident.created_at, zone),
        "updated_at": api_time(incident.updated_at, zone),
    }


def incident_rows(incidents: list[IncidentApiRow]) -> list[dict]:
    """A page of the API incidents list (``IncidentOutput(incidents, many=True).data``)."""
    now, zone = timezone.now(), timezone.get_current_timezone()
    return [incident_row(incident, now=now, zone=zone) for incident in incidents]
