"""What every incident write shares: the role check, the audit fields of a history
row, the save that validates only what the write did not build itself, the live
pages' nudge, the announcement after commit, the row lock."""

from collections.abc import Iterable
from datetime import datetime

from common.exceptions import InvalidInput
from common.roles import require_responder
from incidents import announcements, live
from incidents.models import (
    FailurePattern,
    Incident,
    RoleAssignment,
    Severity,
    TimelineEvent,
)

Source = TimelineEvent.Source
Kind = TimelineEvent.Kind

SINGLE_ROLES = {
    RoleAssignment.Role.COMMANDER: "commander",
    RoleAssignment.Role.COMMUNICATIONS_LEAD: "communications_lead",
    RoleAssignment.Role.SCRIBE: "scribe",
}

# What an incident says about its impact and its causes, in the order every form and
# the API show it.
IMPACT_FIELDS = (
    "detection_source",
    "detected_before_customers",
    "affected_users_count",
    "affected_users_percent",
    "services",
    "affected_features",
    "estimated_loss",
    "compensation",
    "sla_minutes_breached",
    "category",
    "failure_patterns",
)

EDITABLE_FIELDS = (
    "title",
    "summary",
    "severity",
    "private",
    "started_at",
    *IMPACT_FIELDS,
    "preceding_change",
)


def require_driver(actor) -> None:
    require_responder(actor, to="change incidents")


def audit(instance, *, actor, reason: str) -> None:
    """Name the actor and the reason on every history row ``instance`` writes next.

    Call it before changing a history-tracked many-to-many field too: simple-history
    writes a row on ``m2m_changed``, and without this that row has no user or reason.
    """
    instance._history_user = actor
    instance._change_reason = reason[:100]


def rows_in_hand(instance) -> list[str]:
    """The foreign keys that hold a row already read (the severity, the actor...).
    ``full_clean`` would look each one up again, one query per key, only to learn it
    exists; the database's foreign keys still refuse a row deleted meanwhile."""
    return [
        field.name
        for field in instance._meta.concrete_fields
        if field.many_to_one
        and field.is_cached(instance)
        and getattr(instance, field.name) is not None
    ]


def save(
    instance,
    *,
    actor,
    reason: str,
    update_fields: list[str] | None = None,
    validate_constraints: bool = True,
) -> None:
    """Save with the audit row naming the actor and the reason; open pages of the
    incident it belongs to hear of it after commit (``incidents.live``).
    ``validate_constraints=False`` where the caller has checked the ones its input
    can break (each check is a query and a savepoint; the database still enforces them)."""
    audit(instance, actor=actor, reason=reason)
    tell_live_pages(instance)
    instance.full_clean(
        exclude=["services", "responders", *rows_in_hand(instance)],
        validate_unique=False,
        validate_constraints=validate_constraints,
    )
    if update_fields is None:
        instance.save()
        return
    stamped = any(field.name == "updated_at" for field in instance._meta.concrete_fields)
    instance.save(update_fields=[*update_fields, "updated_at"] if stamped else update_fields)


def tell_live_pages(instance) -> None:
    if isinstance(instance, Incident):
        live.incident_changed(instance)
    elif getattr(instance, "incident_id", None):
        live.incident_changed(instance.incident_id)


def announce(
    incident: Incident,
    *,
    kind: str,
    message: str,
    actor,
    source: str,
    previous_severity: Severity | None = None,
) -> None:
    """Tell the routed audiences (Slack announcement edited in place, CS, business)
    in this transaction's outbox; the sends happen after commit, in the worker."""
    announcements.announcer().fan_out(
        incident=incident,
        kind=kind,
        message=message,
        actor=actor,
        source=source,
        previous_severity=previous_severity,
    )


def validate_patterns(patterns: Iterable[str]) -> list[str]:
    patterns = list(dict.fromkeys(patterns))
    unknown = [p for p in patterns if p not in FailurePattern.values]
    if unknown:
        raise InvalidInput(
            f"Unknown failure pattern(s): {', '.join(map(str, unknown))}. "
            f"Known: {', '.join(FailurePattern.values)}.",
            field="failure_patterns",
        )
    return patterns


def lock(incident: Incident) -> Incident:
    return Incident.objects.select_for_update().select_related("severity").get(pk=incident.pk)


def open_role(incident: Incident, *, role: str, user, actor, at: datetime) -> None:
    """Record the assignment and tell the person (unless they assigned themselves)."""
    RoleAssignment.objects.create(
        incident=incident, role=role, user=user, assigned_by=actor, started_at=at
    )
    announcements.announcer().role_assigned(incident=incident, role=role, user=user, actor=actor)
