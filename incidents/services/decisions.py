"""Decisions: the options considered, the one chosen and why."""

from django.db import transaction
from django.utils import timezone

from common.exceptions import InvalidInput
from incidents.models import (
    Decision,
    Incident,
)
from incidents.services.base import Kind, Source, require_driver, save
from incidents.timeline import timeline_record


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
    require_driver(actor)
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
    save(decision, actor=actor, reason="decision recorded")
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
