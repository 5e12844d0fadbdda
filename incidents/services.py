"""Writes. Each function is one transaction that writes the state, its timeline
event and its history row (with the acting user), and defers side effects to
``transaction.on_commit``.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from common.exceptions import InvalidInput, NotAllowed
from incidents import lifecycle
from incidents.lifecycle import CannotClose, MoveKind, Stage
from incidents.models import (
    TEXT_MAX,
    Decision,
    FailurePattern,
    Incident,
    RoleAssignment,
    Service,
    Severity,
    TimelineEvent,
)
from incidents.permissions import can_drive_incidents

Source = TimelineEvent.Source
Kind = TimelineEvent.Kind

SINGLE_ROLES = {
    RoleAssignment.Role.COMMANDER: "commander",
    RoleAssignment.Role.COMMUNICATIONS_LEAD: "communications_lead",
    RoleAssignment.Role.SCRIBE: "scribe",
}

EDITABLE_FIELDS = (
    "title",
    "summary",
    "severity",
    "private",
    "started_at",
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
    "preceding_change",
)


def _require_driver(actor) -> None:
    if not can_drive_incidents(actor):
        raise NotAllowed("Only responders and admins can change incidents.")


def _audit(instance, *, actor, reason: str) -> None:
    """Name the actor and the reason on every history row ``instance`` writes next.

    Call it before changing a history-tracked many-to-many field too: simple-history
    writes a row on ``m2m_changed``, and without this that row has no user or reason.
    """
    instance._history_user = actor
    instance._change_reason = reason[:100]


def _save(instance, *, actor, reason: str, update_fields: list[str] | None = None) -> None:
    """Save with the audit row naming the actor and the reason."""
    _audit(instance, actor=actor, reason=reason)
    instance.full_clean(exclude=["services", "responders"], validate_unique=False)
    instance.save() if update_fields is None else instance.save(
        update_fields=[*update_fields, "updated_at"]
    )


def _event(
    incident: Incident,
    *,
    kind: str,
    actor,
    source: str,
    text: str = "",
    data: dict | None = None,
    at: datetime | None = None,
) -> TimelineEvent:
    return TimelineEvent.objects.create(
        incident=incident,
        kind=kind,
        actor=actor,
        source=source,
        text=text,
        data=data or {},
        occurred_at=at or timezone.now(),
    )


def _announce(
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
    from notifications.services import updates_fan_out  # notifications depends on us

    updates_fan_out(
        incident=incident,
        kind=kind,
        message=message,
        actor=actor,
        source=source,
        previous_severity=previous_severity,
    )


def _validate_patterns(patterns: Iterable[str]) -> list[str]:
    patterns = list(dict.fromkeys(patterns))
    unknown = [p for p in patterns if p not in FailurePattern.values]
    if unknown:
        raise InvalidInput(
            f"Unknown failure pattern(s): {', '.join(map(str, unknown))}. "
            f"Known: {', '.join(FailurePattern.values)}.",
            field="failure_patterns",
        )
    return patterns


def _lock(incident: Incident) -> Incident:
    return Incident.objects.select_for_update().select_related("severity").get(pk=incident.pk)


def _open_role(incident: Incident, *, role: str, user, actor, at: datetime) -> None:
    RoleAssignment.objects.create(
        incident=incident, role=role, user=user, assigned_by=actor, started_at=at
    )


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
    _require_driver(actor)
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
    _save(incident, actor=actor, reason="declared")
    services = list(services)
    if services:
        incident.services.set(services)
    _open_role(incident, role=RoleAssignment.Role.COMMANDER, user=commander, actor=actor, at=now)
    _event(
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
    _announce(
        incident,
        kind="declared",
        message=f"Declared {severity.code}: {title}" + (f"\n{summary}" if summary else ""),
        actor=actor,
        source=source,
    )
    return incident


@transaction.atomic
def incident_move(
    *, incident: Incident, to: str, actor, note: str = "", source: str = Source.WEB
) -> Incident:
    """Move ``incident`` to stage ``to`` (forward, skipping forward, or reopen).

    Locks the row, checks the transition table, stamps the stage's time and
    actor, and writes a timeline event per move (skips name the stages skipped).
    Raises ``IllegalStageMove`` (409) with the reason.
    """
    _require_driver(actor)
    if len(note) > TEXT_MAX:
        raise InvalidInput(
            f"Ensure this field has no more than {TEXT_MAX} characters.", field="note"
        )
    incident = _lock(incident)
    move = lifecycle.plan_move(
        current=incident.stage, target=to, closed=incident.closed_at is not None
    )
    now = timezone.now()
    changed = ["stage"]
    if move.kind == MoveKind.REOPEN:
        previous_recovery = incident.recovered_at
        incident.recovered_at = None
        incident.recovered_by = None
        incident.reopened_count += 1
        changed += ["recovered_at", "recovered_by", "reopened_count"]
        kind = Kind.REOPENED
        text = note or "Reopened: the recovery regressed."
        data = {
            "from": move.source,
            "to": move.target,
            "previous_recovered_at": previous_recovery.isoformat() if previous_recovery else None,
        }
    else:
        at_field, by_field = lifecycle.STAGE_FIELDS[move.target]
        setattr(incident, at_field, now)
        setattr(incident, by_field, actor)
        changed += [at_field, by_field]
        kind = Kind.STAGE_SKIPPED if move.kind == MoveKind.SKIP else Kind.STAGE_MOVED
        text = note
        data = {"from": move.source, "to": move.target, "skipped": list(move.skipped)}
    incident.stage = move.target
    _save(
        incident, actor=actor, reason=f"stage {move.source} → {move.target}", update_fields=changed
    )
    _event(incident, kind=kind, actor=actor, source=source, text=text, data=data, at=now)
    verb = "Reopened" if move.kind == MoveKind.REOPEN else "Moved"
    # Restored service and a regression are what stakeholders wait for; other moves
    # are the responders' working notes (the default routes tell them apart).
    if move.kind == MoveKind.REOPEN:
        announce_kind = "reopened"
    elif (
        lifecycle.index(move.source)
        < lifecycle.index(Stage.RECOVER)
        <= lifecycle.index(move.target)
    ):
        announce_kind = "resolved"
    else:
        announce_kind = "stage"
    _announce(
        incident,
        kind=announce_kind,
        message=f"{verb}: {incident.get_stage_display()}" + (f" — {note}" if note else ""),
        actor=actor,
        source=source,
    )
    return incident


@transaction.atomic
def incident_close(
    *, incident: Incident, actor, note: str = "", source: str = Source.WEB
) -> Incident:
    """Close the incident when its severity's closing rules hold; else ``CannotClose``."""
    _require_driver(actor)
    incident = _lock(incident)
    blockers = lifecycle.closing_blockers(incident)
    if blockers:
        raise CannotClose(" ".join(blockers), extra={"blockers": blockers})
    now = timezone.now()
    incident.closed_at = now
    incident.closed_by = actor
    _save(incident, actor=actor, reason="closed", update_fields=["closed_at", "closed_by"])
    _event(incident, kind=Kind.CLOSED, actor=actor, source=source, text=note or "Closed.", at=now)
    _announce(
        incident,
        kind="stage",
        message="Closed." + (f" {note}" if note else ""),
        actor=actor,
        source=source,
    )
    return incident


@transaction.atomic
def incident_update(
    *, incident: Incident, actor, data: dict[str, Any], source: str = Source.WEB
) -> Incident:
    """Edit incident fields (never the stage). Writes one history row and one
    timeline event naming the fields changed; a severity change gets its own event."""
    _require_driver(actor)
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(f"Not editable: {', '.join(sorted(unknown))}.", field=sorted(unknown)[0])
    incident = _lock(incident)
    old_severity = incident.severity
    changed: list[str] = []
    services = data.pop("services", None)
    if "failure_patterns" in data:
        data["failure_patterns"] = _validate_patterns(data["failure_patterns"] or [])
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
    _audit(incident, actor=actor, reason=reason)
    if services_changed:
        incident.services.set(services)
    _save(incident, actor=actor, reason=reason)
    now = timezone.now()
    if "severity" in changed:
        _event(
            incident,
            kind=Kind.SEVERITY_CHANGED,
            actor=actor,
            source=source,
            text=f"Severity {old_severity.code} → {incident.severity.code}",
            data={"from": old_severity.code, "to": incident.severity.code},
            at=now,
        )
        _announce(
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
        _event(
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


@transaction.atomic
def incident_assign_role(
    *, incident: Incident, role: str, user, actor, source: str = Source.WEB
) -> Incident:
    """Hand a role to ``user``; the previous holder's assignment ends now.

    Responders are a set: assigning adds one. Every hand-off is kept as a
    ``RoleAssignment`` row and a timeline event.
    """
    _require_driver(actor)
    if role not in RoleAssignment.Role.values:
        raise InvalidInput(f"Unknown role '{role}'.", field="role")
    if not user.is_active:
        raise InvalidInput(f"{user.get_username()} is not an active user.", field="user")
    incident = _lock(incident)
    now = timezone.now()
    if role == RoleAssignment.Role.RESPONDER:
        if incident.responders.filter(pk=user.pk).exists():
            return incident
        _audit(incident, actor=actor, reason="responder added")
        incident.responders.add(user)
        _save(incident, actor=actor, reason="responder added")
    else:
        field = SINGLE_ROLES[role]
        if getattr(incident, f"{field}_id") == user.pk:
            return incident
        RoleAssignment.objects.filter(incident=incident, role=role, ended_at__isnull=True).update(
            ended_at=now
        )
        setattr(incident, field, user)
        _save(incident, actor=actor, reason=f"{role} assigned", update_fields=[field])
    _open_role(incident, role=role, user=user, actor=actor, at=now)
    label = RoleAssignment.Role(role).label
    _event(
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
    _require_driver(actor)
    incident = _lock(incident)
    if not incident.responders.filter(pk=user.pk).exists():
        return incident
    now = timezone.now()
    _audit(incident, actor=actor, reason="responder removed")
    incident.responders.remove(user)
    RoleAssignment.objects.filter(
        incident=incident, role=RoleAssignment.Role.RESPONDER, user=user, ended_at__isnull=True
    ).update(ended_at=now)
    _save(incident, actor=actor, reason="responder removed")
    _event(
        incident,
        kind=Kind.ROLE_ASSIGNED,
        actor=actor,
        source=source,
        text=f"Responder removed: {user.get_full_name() or user.get_username()}",
        data={"role": "responder", "user": user.get_username(), "removed": True},
        at=now,
    )
    return incident


@transaction.atomic
def note_add(*, incident: Incident, text: str, actor, source: str = Source.WEB) -> TimelineEvent:
    """Append a note to the timeline."""
    _require_driver(actor)
    text = text.strip()
    if not text:
        raise InvalidInput("A note needs some text.", field="text")
    return _event(incident, kind=Kind.NOTE, actor=actor, source=source, text=text)


@transaction.atomic
def decision_record(
    *,
    incident: Incident,
    options: list[str],
    chosen: str,
    rationale: str,
    actor,
    information: str = "",
    source: str = Source.WEB,
) -> Decision:
    """Record a response decision (fix forward, roll back, fail over, wait, ...)
    with the options weighed and why; writes the decision, its history row and
    a timeline event."""
    _require_driver(actor)
    options = [option.strip() for option in options if option and option.strip()]
    chosen = chosen.strip()
    if not options:
        raise InvalidInput("List at least one option that was considered.", field="options")
    if chosen not in options:
        raise InvalidInput("The chosen option must be one of the options.", field="chosen")
    if not rationale.strip():
        raise InvalidInput("Say why this option was chosen.", field="rationale")
    if incident.closed_at is not None:
        raise InvalidInput("The incident is closed.", field="incident")
    now = timezone.now()
    decision = Decision(
        incident=incident,
        options=options,
        chosen=chosen,
        rationale=rationale.strip(),
        information=information.strip(),
        decided_by=actor,
        decided_at=now,
    )
    _save(decision, actor=actor, reason="decision recorded")
    _event(
        incident,
        kind=Kind.DECISION,
        actor=actor,
        source=source,
        text=f"Decided: {chosen} — {decision.rationale}",
        data={
            "decision": decision.pk,
            "options": options,
            "chosen": chosen,
            "stage": incident.stage,
        },
        at=now,
    )
    return decision
