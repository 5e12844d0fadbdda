"""Closing an incident: resolved (the severity's closing rules), false alarm, duplicate,
declined; the public incident resolved with it."""

from django.db import transaction
from django.utils import timezone

from common.exceptions import InvalidInput
from incidents import announcements, lifecycle
from incidents.lifecycle import CannotClose, Outcome
from incidents.models import (
    TEXT_MAX,
    Incident,
)
from incidents.services.base import Kind, Source, announce, lock, require_driver, save
from incidents.timeline import timeline_record
from incidents.visibility import incidents_visible_to


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
    require_driver(actor)
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
    incident = lock(incident)
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
    save(
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
    announce(incident, kind="stage", message=announced, actor=actor, source=source)
    if outcome != Outcome.RESOLVED:
        _resolve_public(
            incident, outcome=outcome, message=public_message, actor=actor, source=source
        )
    return incident


def _resolve_public(incident: Incident, *, outcome: str, message: str, actor, source) -> None:
    announcements.announcer().public_resolve(
        incident=incident, outcome=outcome, message=message, actor=actor, source=source
    )
