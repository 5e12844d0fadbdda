"""Remediation options and action items: the two section kinds whose rows live in
tables of their own. How a row reads (the API's and the editor's shape) and how a
section's rows replace the stored ones, each write with its history row.
"""

from collections.abc import Callable
from datetime import date

from django.utils import timezone

from common.exceptions import InvalidInput
from incidents.models import Team
from notifications.services import action_item_assigned_notify
from postmortems import owners, prefill, writes
from postmortems.models import ActionItem, Postmortem, RemediationOption

ITEM_FIELDS = ("title", "term", "kind", "priority", "status", "tracker_url")
OPTION_FIELDS = ("title", "description", "pros", "cons", "chosen", "reason")


def remediation_row(option: RemediationOption) -> dict:
    return {"id": option.pk, **{name: getattr(option, name) for name in OPTION_FIELDS}}


def action_item_row(item: ActionItem) -> dict:
    return {
        "id": item.pk,
        "title": item.title,
        "term": item.term,
        "kind": item.kind,
        "owner": item.owner.get_username() if item.owner else None,
        "due_date": item.due_date.isoformat() if item.due_date else None,
        "priority": item.priority,
        "status": item.status,
        "tracker_url": item.tracker_url,
    }


def remediation_rows(postmortem: Postmortem) -> list[dict]:
    return [remediation_row(o) for o in postmortem.remediation_options.all()]


def action_item_rows(postmortem: Postmortem) -> list[dict]:
    return [action_item_row(i) for i in postmortem.action_items.all()]


def _replace_rows(
    existing: dict, rows: list[dict], *, noun: str, actor, key: str, label: str
) -> list[tuple[int, dict]]:
    """Delete the stored rows the section no longer lists (refusing ids that are gone:
    someone removed them meanwhile) and return (position, row) of what to write."""
    unknown = [row["id"] for row in rows if row["id"] and row["id"] not in existing]
    if unknown:
        raise InvalidInput(
            f"{label}: these {noun} no longer exist (removed meanwhile?): {unknown}. "
            "Reload the postmortem.",
            field=key,
        )
    keep = {row["id"] for row in rows if row["id"]}
    for pk, stored in existing.items():
        if pk not in keep:
            writes.audit(stored, actor=actor, reason="removed")
            stored.delete()
    return list(enumerate(rows))


def remediations_replace(
    postmortem: Postmortem, rows: list[dict], *, actor, key: str, label: str
) -> None:
    existing = {o.pk: o for o in postmortem.remediation_options.all()}
    positions = _replace_rows(existing, rows, noun="options", actor=actor, key=key, label=label)
    # Unchoose before choosing, so the one-chosen constraint holds at every statement.
    for position, row in sorted(positions, key=lambda pair: pair[1]["chosen"]):
        option = existing.get(row["id"]) or RemediationOption(postmortem=postmortem)
        option.position = position
        for name in OPTION_FIELDS:
            setattr(option, name, row[name])
        writes.audit(option, actor=actor, reason="edited")
        option.save()


def remediations_from_decisions(postmortem: Postmortem, incident, *, actor) -> None:
    """A new postmortem's options: what the incident's decisions considered and chose."""
    if postmortem.remediation_options.exists():
        return
    for i, row in enumerate(prefill.remediation_rows(incident)):
        option = RemediationOption(postmortem=postmortem, position=i, **row)
        writes.audit(option, actor=actor, reason="from decision")
        option.save()


def action_items_replace(
    postmortem: Postmortem, rows: list[dict], *, actor, key: str, label: str
) -> None:
    existing = {item.pk: item for item in postmortem.action_items.all()}
    positions = _replace_rows(
        existing, rows, noun="action items", actor=actor, key=key, label=label
    )
    for position, row in positions:
        item = existing.get(row["id"]) or ActionItem(postmortem=postmortem, created_by=actor)
        item_write(
            item,
            row,
            postmortem=postmortem,
            actor=actor,
            path=f"{key}.rows[{position}]",
            where=f"{label}, row {position + 1}",
            position=position,
        )


def item_write(
    item: ActionItem,
    row: dict,
    *,
    postmortem: Postmortem,
    actor,
    path: str,
    where: str,
    position: int | None = None,
    reason: str = "edited",
    before_save: Callable[[ActionItem], None] | None = None,
) -> ActionItem:
    """Write one validated row into ``item`` (owner found by name, team defaulted, the
    completion time kept with the status), with its history row; a new owner is told."""
    previous_owner_id = item.owner_id
    for name in ITEM_FIELDS:
        setattr(item, name, row[name])
    item.owner = owners.owner_find(row["owner"], where=f"{where}, Owner", field=f"{path}.owner")
    item.due_date = date.fromisoformat(row["due_date"]) if row["due_date"] else None
    if item.team_id is None:
        item.team = _default_team(postmortem, item.owner)
    if item.status == ActionItem.Status.DONE and item.completed_at is None:
        item.completed_at = timezone.now()
    elif item.status != ActionItem.Status.DONE:
        item.completed_at = None
    if position is not None:
        item.position = position
    if before_save is not None:
        before_save(item)
    item.full_clean(exclude=["postmortem", "owner", "team", "created_by"])
    writes.audit(item, actor=actor, reason=reason)
    item.save()
    # An item that changed hands is announced to its new owner (a personal notice,
    # after commit through the outbox; not when they took it themselves).
    if item.owner_id is not None and item.owner_id != previous_owner_id:
        action_item_assigned_notify(item=item, actor=actor)
    return item


def _default_team(postmortem: Postmortem, owner) -> Team | None:
    if owner is not None:
        team = owner.teams.order_by("name").first()
        if team:
            return team
    service = (
        postmortem.incident.services.exclude(owner_team=None).select_related("owner_team").first()
    )
    return service.owner_team if service else None
