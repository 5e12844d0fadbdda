"""Incident roles: commander, communications lead, scribe, responders."""

from django.db import transaction
from django.utils import timezone

from common.exceptions import InvalidInput
from incidents.models import (
    Incident,
    RoleAssignment,
)
from incidents.services.base import (
    SINGLE_ROLES,
    Kind,
    Source,
    audit,
    lock,
    open_role,
    require_driver,
    save,
)
from incidents.timeline import timeline_record


@transaction.atomic
def incident_assign_role(
    *, incident: Incident, role: str, user, actor, source: str = Source.WEB
) -> Incident:
    """Hand a role to ``user``; the previous holder's assignment ends now.

    Responders are a set: assigning adds one. Every hand-off is kept as a
    ``RoleAssignment`` row and a timeline event.
    """
    require_driver(actor)
    if role not in RoleAssignment.Role.values:
        raise InvalidInput(f"Unknown role '{role}'.", field="role")
    if not user.is_active:
        raise InvalidInput(f"{user.get_username()} is not an active user.", field="user")
    incident = lock(incident)
    now = timezone.now()
    if role == RoleAssignment.Role.RESPONDER:
        if incident.responders.filter(pk=user.pk).exists():
            return incident
        audit(incident, actor=actor, reason="responder added")
        incident.responders.add(user)
        save(incident, actor=actor, reason="responder added")
    else:
        field = SINGLE_ROLES[role]
        if getattr(incident, f"{field}_id") == user.pk:
            return incident
        RoleAssignment.objects.filter(incident=incident, role=role, ended_at__isnull=True).update(
            ended_at=now
        )
        setattr(incident, field, user)
        save(incident, actor=actor, reason=f"{role} assigned", update_fields=[field])
    open_role(incident, role=role, user=user, actor=actor, at=now)
    label = RoleAssignment.Role(role).label
    timeline_record(
        incident,
        kind=Kind.ROLE_ASSIGNED,
        actor=actor,
        source=source,
        text=f"{label}: {user.get_full_name() or user.get_username()}",
        data={"role": role, "user": user.get_username()},
        at=now,
    )
    return incident


@transaction.atomic
def incident_remove_responder(
    *, incident: Incident, user, actor, source: str = Source.WEB
) -> Incident:
    require_driver(actor)
    incident = lock(incident)
    if not incident.responders.filter(pk=user.pk).exists():
        return incident
    now = timezone.now()
    audit(incident, actor=actor, reason="responder removed")
    incident.responders.remove(user)
    RoleAssignment.objects.filter(
        incident=incident, role=RoleAssignment.Role.RESPONDER, user=user, ended_at__isnull=True
    ).update(ended_at=now)
    save(incident, actor=actor, reason="responder removed")
    timeline_record(
        incident,
        kind=Kind.ROLE_ASSIGNED,
        actor=actor,
        source=source,
        text=f"Responder removed: {user.get_full_name() or user.get_username()}",
        data={"role": "responder", "user": user.get_username(), "removed": True},
        at=now,
    )
    return incident
