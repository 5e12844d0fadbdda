"""One action item written alone (the API, the action items page): allowed after
publishing, since items are tracked to done."""

from django.db import transaction

from common.exceptions import InvalidInput
from postmortems import section_rows
from postmortems import sections as kinds
from postmortems.models import ActionItem, Postmortem, SectionKind
from postmortems.services.editing import action_items_section_touch, content_saved
from postmortems.writes import lock, require_editor

# How one action item written alone is named in messages.
NEW_ITEM = {"key": "action_item", "label": "Action item"}
DESCRIPTION_MAX = 2_000


def _one_row(data: dict) -> dict:
    rows = kinds.validate(SectionKind.ACTION_ITEMS, {"rows": [data]}, **NEW_ITEM)["rows"]
    if not rows:
        raise InvalidInput("Action item, Action: required.", field="title")
    return rows[0]


@transaction.atomic
def action_item_create(*, postmortem: Postmortem, actor, data: dict) -> ActionItem:
    """Add one action item."""
    require_editor(actor)
    postmortem = lock(postmortem)
    row = _one_row(data)
    count = postmortem.action_items.count()
    if count >= kinds.MAX_ACTION_ITEMS:
        raise InvalidInput(f"Action items: at most {kinds.MAX_ACTION_ITEMS}.", field="title")

    def describe(item: ActionItem) -> None:
        if "description" in data:
            item.description = str(data["description"] or "")[:DESCRIPTION_MAX]

    item = section_rows.item_write(
        ActionItem(postmortem=postmortem, created_by=actor),
        row,
        postmortem=postmortem,
        actor=actor,
        path="action_item",
        where="Action item",
        position=count,
        reason="created",
        before_save=describe,
    )
    action_items_section_touch(postmortem, actor=actor)
    content_saved(
        postmortem, actor=actor, what=f"action item “{item.title}”", reason="action item added"
    )
    return item


@transaction.atomic
def action_item_update(*, item: ActionItem, actor, data: dict) -> ActionItem:
    """Edit one action item's fields (owner by username, due date, status, ...)."""
    require_editor(actor)
    item = (
        ActionItem.objects.select_for_update(of=("self",))
        .select_related("postmortem")
        .get(pk=item.pk)
    )
    postmortem = lock(item.postmortem)
    current = section_rows.action_item_row(item)
    del current["id"]
    unknown = set(data) - set(current) - {"description"}
    if unknown:
        raise InvalidInput(f"Not editable: {', '.join(sorted(unknown))}.", field=sorted(unknown)[0])
    row = _one_row({**current, **{k: v for k, v in data.items() if k != "description"}})

    def describe(item: ActionItem) -> None:
        if "description" not in data:
            return
        description = str(data["description"] or "")
        if len(description) > DESCRIPTION_MAX:
            raise InvalidInput(
                f"Action item, Description: at most {DESCRIPTION_MAX} characters.",
                field="description",
            )
        item.description = description

    section_rows.item_write(
        item,
        row,
        postmortem=postmortem,
        actor=actor,
        path="action_item",
        where="Action item",
        before_save=describe,
    )
    action_items_section_touch(postmortem, actor=actor)
    content_saved(
        postmortem, actor=actor, what=f"action item “{item.title}”", reason="action item edited"
    )
    return item
