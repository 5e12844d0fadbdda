"""Writes. Each function is one transaction that writes the state, its timeline
event and its history row (with the acting user), and defers side effects to
``transaction.on_commit``.
"""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from common.exceptions import InvalidInput, NotAllowed
from common.prefetch import forget_prefetched
from common.roles import can_drive_incidents
from incidents import announcements, lifecycle, live, selectors
from incidents.lifecycle import CannotClose, MoveKind, Outcome, Stage
from incidents.models import (
    INCIDENT_HISTORY,
    SHORT_TEXT_MAX,
    TEXT_MAX,
    Decision,
    FailurePattern,
    Incident,
    RoleAssignment,
    Service,
    Severity,
    TimelineEvent,
)
from incidents.timeline import timeline_record
from incidents.visibility import incidents_visible_to

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


def _rows_in_hand(instance) -> list[str]:
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


def _save(
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
    _audit(instance, actor=actor, reason=reason)
    _tell_live_pages(instance)
    instance.full_clean(
        exclude=["services", "responders", *_rows_in_hand(instance)],
        validate_unique=False,
        validate_constraints=validate_constraints,
    )
    if update_fields is None:
        instance.save()
        return
    stamped = any(field.name == "updated_at" for field in instance._meta.concrete_fields)
    instance.save(update_fields=[*update_fields, "updated_at"] if stamped else update_fields)


def _tell_live_pages(instance) -> None:
    if isinstance(instance, Incident):
        live.incident_changed(instance)
    elif getattr(instance, "incident_id", None):
        live.incident_changed(instance.incident_id)


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
    announcements.announcer().fan_out(
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
    """Record the assignment and tell the person (unless they assigned themselves)."""
    RoleAssignment.objects.create(
        incident=incident, role=role, user=user, assigned_by=actor, started_at=at
    )
    announcements.announcer().role_assigned(incident=incident, role=role, user=user, actor=actor)


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
    # One history row with the services: saved without it, the services inserted
    # without the many-to-many signals (each would write another row and read the
    # links back), then the row. A new incident meets the database's constraints by
    # construction but for the times, checked above with their own field errors.
    services = list(dict.fromkeys(services))
    incident.skip_history_when_saving = True
    _save(incident, actor=actor, reason="declared", validate_constraints=False)
    del incident.skip_history_when_saving
    links = Incident.services.through
    links.objects.bulk_create(links(incident=incident, service=service) for service in services)
    INCIDENT_HISTORY.create_historical_record(incident, "+")
    # What the routing and the messages below read, without reading it back.
    selectors.incident_as_declared(incident, services=services)
    _open_role(incident, role=RoleAssignment.Role.COMMANDER, user=commander, actor=actor, at=now)
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
    _announce(
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
    timeline_record(incident, kind=kind, actor=actor, source=source, text=text, data=data, at=now)
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


def _moment(at: datetime | None) -> str:
    """A stage time as the timeline reads it (UTC, as the page shows times)."""
    if at is None:
        return "— (skipped)"
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S UTC" if at.second else "%Y-%m-%d %H:%M UTC")


def _duplicate_target(incident: Incident, duplicate_of, *, actor) -> Incident:
    """The incident a duplicate points at: one the actor may see, not itself, not a
    duplicate (the chain would hide where the work is)."""
    if duplicate_of is None:
        raise InvalidInput("Say which incident this duplicates (its number).", field="duplicate_of")
    pk = duplicate_of.pk if isinstance(duplicate_of, Incident) else duplicate_of
    target = incidents_visible_to(actor).filter(pk=pk).select_related("duplicate_of").first()
    if target is None:
        raise InvalidInput(f"There is no incident #{pk}.", field="duplicate_of")
    if target.pk == incident.pk:
        raise InvalidInput("An incident cannot duplicate itself.", field="duplicate_of")
    if target.outcome == Outcome.DUPLICATE:
        raise InvalidInput(
            f"#{target.pk} is itself a duplicate of #{target.duplicate_of_id}; "
            f"point at #{target.duplicate_of_id}.",
            field="duplicate_of",
        )
    return target


CLOSED_TEXT = {
    Outcome.FALSE_ALARM: "Closed as a false alarm",
    Outcome.DECLINED: "Closed as declined",
}


@transaction.atomic
def incident_close(
    *,
    incident: Incident,
    actor,
    outcome: str = Outcome.RESOLVED,
    note: str = "",
    duplicate_of: Incident | int | None = None,
    public_message: str = "",
    source: str = Source.WEB,
) -> Incident:
    """Close the incident with ``outcome``.

    *resolved* (the default) closes from retrospect when the severity's closing rules
    hold, else ``CannotClose`` with the blockers. *false alarm*, *duplicate* (of
    ``duplicate_of``, which gets a timeline event pointing back) and *declined* close
    from any stage and need a reason (``note``); they leave the lifecycle metrics.
    Writes the incident's history row and a "closed" event, tells the routed audiences
    through the outbox, and for those outcomes resolves the incident's unresolved
    public incident, if any, with ``public_message`` (or a default wording).
    """
    _require_driver(actor)
    if outcome not in Outcome.values:
        raise InvalidInput(
            f"Unknown outcome '{str(outcome)[:40]}'; use one of {', '.join(Outcome.values)}.",
            field="outcome",
        )
    note = (note or "").strip()
    if len(note) > TEXT_MAX:
        raise InvalidInput(
            f"Ensure this field has no more than {TEXT_MAX} characters.", field="note"
        )
    if outcome != Outcome.RESOLVED and not note:
        raise InvalidInput(
            f"Say why this is {'a ' if outcome == Outcome.FALSE_ALARM else ''}"
            f"{Outcome(outcome).label.lower()}: the reason is kept on the timeline.",
            field="note",
        )
    if outcome != Outcome.DUPLICATE and duplicate_of is not None:
        raise InvalidInput(
            "Only a duplicate names the incident it duplicates.", field="duplicate_of"
        )
    incident = _lock(incident)
    target = (
        _duplicate_target(incident, duplicate_of, actor=actor)
        if (outcome == Outcome.DUPLICATE)
        else None
    )
    blockers = lifecycle.closing_blockers(incident, outcome=outcome)
    if blockers:
        raise CannotClose(" ".join(blockers), extra={"blockers": blockers})
    now = timezone.now()
    incident.closed_at = now
    incident.closed_by = actor
    incident.outcome = outcome
    incident.outcome_reason = note
    incident.duplicate_of = target
    _save(
        incident,
        actor=actor,
        reason="closed" if outcome == Outcome.RESOLVED else f"closed as {outcome}",
        update_fields=["closed_at", "closed_by", "outcome", "outcome_reason", "duplicate_of"],
    )
    if outcome == Outcome.RESOLVED:
        text = note or "Closed."
    else:
        said = CLOSED_TEXT.get(outcome) or f"Closed as a duplicate of #{target.pk}"
        text = f"{said}: {note}"
    timeline_record(
        incident,
        kind=Kind.CLOSED,
        actor=actor,
        source=source,
        text=text,
        data={
            "outcome": outcome,
            "stage": incident.stage,
            **({"duplicate_of": target.pk} if target else {}),
        },
        at=now,
    )
    if target is not None:
        # The other incident's timeline points back; a private duplicate's reason
        # stays on its own page (the target may be seen by more people).
        back = f"#{incident.pk} was closed as a duplicate of this incident"
        timeline_record(
            target,
            kind=Kind.DUPLICATE_LINKED,
            actor=actor,
            source=source,
            text=f"{back}." if incident.private else f"{back}: {note}",
            data={"duplicate": incident.pk},
            at=now,
        )
    announced = ("Closed." + (f" {note}" if note else "")) if outcome == Outcome.RESOLVED else text
    _announce(incident, kind="stage", message=announced, actor=actor, source=source)
    if outcome != Outcome.RESOLVED:
        _resolve_public(
            incident, outcome=outcome, message=public_message, actor=actor, source=source
        )
    return incident


def _resolve_public(incident: Incident, *, outcome: str, message: str, actor, source) -> None:
    announcements.announcer().public_resolve(
        incident=incident, outcome=outcome, message=message, actor=actor, source=source
    )


@transaction.atomic
def incident_stage_time_correct(
    *,
    incident: Incident,
    stage: str,
    at: datetime,
    reason: str,
    actor,
    source: str = Source.WEB,
) -> Incident:
    """Correct when ``stage`` was reached (or give a wrongly skipped stage its time).

    The lifecycle checks the correction (``lifecycle.plan_correction``): not in the
    future, not before detection, only stages up to the current one. The incident's
    history row names the change and a "stage time corrected" event says from what to
    what and why, so durations change in the open. A formerly skipped stage is
    credited to the corrector. Works on closed incidents too (their durations are
    what reports read). The stage itself never changes here.
    """
    _require_driver(actor)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the time is corrected.", field="reason")
    if len(reason) > SHORT_TEXT_MAX:
        raise InvalidInput(
            f"Ensure this field has no more than {SHORT_TEXT_MAX} characters.", field="reason"
        )
    incident = _lock(incident)
    times = {
        name: getattr(incident, at_field)
        for name, (at_field, _by) in lifecycle.STAGE_FIELDS.items()
    }
    now = timezone.now()
    correction = lifecycle.plan_correction(
        times=times,
        started_at=incident.started_at,
        current=incident.stage,
        stage=stage,
        at=at,
        now=now,
    )
    at_field, by_field = lifecycle.STAGE_FIELDS[stage]
    changed = [at_field]
    setattr(incident, at_field, correction.corrected)
    if correction.previous is None:
        setattr(incident, by_field, actor)
        changed.append(by_field)
    label = Stage(stage).label
    _save(
        incident,
        actor=actor,
        reason=f"{stage} time corrected",
        update_fields=changed,
    )
    timeline_record(
        incident,
        kind=Kind.STAGE_TIME_CORRECTED,
        actor=actor,
        source=source,
        text=f"{label} time corrected from {_moment(correction.previous)} to "
        f"{_moment(correction.corrected)}: {reason}",
        data={
            "stage": stage,
            "from": correction.previous.isoformat() if correction.previous else None,
            "to": correction.corrected.isoformat(),
            "reason": reason,
        },
        at=now,
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
        timeline_record(
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


@transaction.atomic
def note_add(*, incident: Incident, text: str, actor, source: str = Source.WEB) -> TimelineEvent:
    """Append a note to the timeline."""
    _require_driver(actor)
    text = text.strip()
    if not text:
        raise InvalidInput("A note needs some text.", field="text")
    return timeline_record(incident, kind=Kind.NOTE, actor=actor, source=source, text=text)


def _same_option(text: str) -> str:
    return " ".join(text.split()).casefold()


@transaction.atomic
def decision_record(
    *,
    incident: Incident,
    options: list[str],
    rationale: str,
    actor,
    chosen: str = "",
    chosen_index: int | None = None,
    information: str = "",
    supersedes: Decision | int | None = None,
    source: str = Source.WEB,
) -> Decision:
    """Record a response decision (fix forward, roll back, fail over, wait, ...)
    with the options weighed and why; writes the decision, its history row and
    a timeline event.

    The chosen option is named by ``chosen_index`` (its position in ``options`` as
    given, from 0) or by ``chosen`` (its text). ``supersedes``: an earlier decision of
    this incident that this one replaces; it is kept and shown as superseded.
    """
    _require_driver(actor)
    given = [(option or "").strip() for option in options]
    chosen = (chosen or "").strip()
    if chosen_index is not None:
        if not (0 <= chosen_index < len(given) and given[chosen_index]):
            raise InvalidInput(
                f"chosen_index {chosen_index} is not one of the {len(given)} options "
                "(counted from 0).",
                field="chosen_index",
            )
        if chosen and _same_option(chosen) != _same_option(given[chosen_index]):
            raise InvalidInput(
                f"chosen and chosen_index ({chosen_index}) name different options; "
                "send one of them.",
                field="chosen",
            )
        chosen = given[chosen_index]
    # Case and spacing do not make another option; the first spelling is kept.
    unique: dict[str, str] = {}
    for option in given:
        if option:
            unique.setdefault(_same_option(option), option)
    options = list(unique.values())
    if not options:
        raise InvalidInput("List at least one option that was considered.", field="options")
    if not chosen:
        raise InvalidInput("Pick the option that was chosen.", field="chosen")
    if _same_option(chosen) not in unique:
        raise InvalidInput("The chosen option must be one of the options.", field="chosen")
    chosen = unique[_same_option(chosen)]
    if not rationale.strip():
        raise InvalidInput("Say why this option was chosen.", field="rationale")
    if incident.closed_at is not None:
        raise InvalidInput("The incident is closed.", field="incident")
    if supersedes is not None:
        pk = supersedes.pk if isinstance(supersedes, Decision) else supersedes
        supersedes = Decision.objects.select_for_update().filter(pk=pk, incident=incident).first()
        if supersedes is None:
            raise InvalidInput(
                "Only a decision of this incident can be superseded.", field="supersedes"
            )
        if Decision.objects.filter(supersedes=supersedes).exists():
            raise InvalidInput(
                "That decision is already superseded; supersede the later one.",
                field="supersedes",
            )
    now = timezone.now()
    decision = Decision(
        incident=incident,
        options=options,
        chosen=chosen,
        rationale=rationale.strip(),
        information=information.strip(),
        decided_by=actor,
        decided_at=now,
        supersedes=supersedes,
    )
    _save(decision, actor=actor, reason="decision recorded")
    replaces = f" (replaces “{supersedes.chosen}”)" if supersedes else ""
    timeline_record(
        incident,
        kind=Kind.DECISION,
        actor=actor,
        source=source,
        text=f"Decided: {chosen}{replaces} — {decision.rationale}",
        data={
            "decision": decision.pk,
            "options": options,
            "chosen": chosen,
            "stage": incident.stage,
            **({"supersedes": supersedes.pk} if supersedes else {}),
        },
        at=now,
    )
    return decision


def _lock_note(event: TimelineEvent) -> TimelineEvent:
    note = TimelineEvent.objects.select_for_update().filter(pk=event.pk).first()
    if note is None or note.kind != Kind.NOTE:
        raise InvalidInput("Only notes can be edited or struck through.", field="event")
    if note.struck_at is not None:
        raise InvalidInput("This note is struck through; add a new note instead.", field="event")
    return note


@transaction.atomic
def note_edit(*, event: TimelineEvent, text: str, actor, source: str = Source.WEB) -> TimelineEvent:
    """Replace a note's text. The history keeps the previous text with who and when;
    the timeline shows the note as edited."""
    _require_driver(actor)
    text = (text or "").strip()
    if not text:
        raise InvalidInput(
            "A note needs some text; strike it through to withdraw it.", field="text"
        )
    note = _lock_note(event)
    if text == note.text:
        return note
    note.text = text
    note.edited_at = timezone.now()
    note.edited_by = actor
    _save(
        note,
        actor=actor,
        reason=f"note edited via {source}",
        update_fields=["text", "edited_at", "edited_by"],
    )
    return note


@transaction.atomic
def note_strike(
    *, event: TimelineEvent, actor, reason: str = "", source: str = Source.WEB
) -> TimelineEvent:
    """Strike a note through (it was wrong): the text stays, shown struck through with
    who, when and why; nothing is deleted."""
    _require_driver(actor)
    reason = (reason or "").strip()
    if len(reason) > SHORT_TEXT_MAX:
        raise InvalidInput(
            f"Ensure this field has no more than {SHORT_TEXT_MAX} characters.", field="reason"
        )
    note = _lock_note(event)
    note.struck_at = timezone.now()
    note.struck_by = actor
    note.struck_reason = reason
    _save(
        note,
        actor=actor,
        reason=f"note struck through via {source}",
        update_fields=["struck_at", "struck_by", "struck_reason"],
    )
    return note
