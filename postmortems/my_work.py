"""The parts of the "My work" page (/me/) this app owns: the reviews waiting for
someone and their open action items (registered with ``notifications.my_work``)."""

from dataclasses import dataclass
from datetime import date

from django.db.models import Case, Value, When
from django.utils import timezone

from incidents.visibility import incidents_visible_to
from notifications.my_work import ROWS_MAX
from postmortems.models import ActionItem
from postmortems.selectors import reviews_waiting_for


@dataclass(frozen=True)
class MyActionItem:
    item: ActionItem
    overdue: bool
    due_today: bool


def my_open_action_items(*, user, today: date | None = None) -> list[MyActionItem]:
    """``user``'s unfinished action items on incidents they may see, due soonest
    first (no due date last)."""
    today = today or timezone.localdate()
    queryset = (
        ActionItem.objects.filter(owner=user, postmortem__incident__in=incidents_visible_to(user))
        .exclude(status__in=[ActionItem.Status.DONE, ActionItem.Status.WONT_DO])
        .select_related("postmortem", "postmortem__incident")
        .order_by(
            Case(When(due_date__isnull=True, then=Value(1)), default=Value(0)), "due_date", "pk"
        )
    )
    return [
        MyActionItem(
            item=item,
            overdue=item.due_date is not None and item.due_date < today,
            due_today=item.due_date == today,
        )
        for item in queryset[:ROWS_MAX]
    ]


def my_reviews(*, user) -> list:
    return list(reviews_waiting_for(user=user)[:ROWS_MAX])
