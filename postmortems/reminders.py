"""Which action items are due, for the beat's personal reminders to their owners.

The query is this app's; what the notice says and how it travels (dedupe, visibility,
preferences, the outbox) is ``notifications``'."""

from datetime import date

from django.utils import timezone

from notifications.services import action_item_due_notify
from postmortems.models import ActionItem


def action_items_due_notify(*, today: date | None = None) -> int:
    """Beat: tell each owner of an open action item due today (within 24 h) or overdue
    (once a day). Returns the notices queued."""
    today = today or timezone.localdate()
    items = (
        ActionItem.objects.filter(due_date__lte=today, owner__isnull=False, owner__is_active=True)
        .exclude(status__in=[ActionItem.Status.DONE, ActionItem.Status.WONT_DO])
        .select_related("owner", "postmortem__incident__severity")
        .order_by("due_date", "pk")
    )
    return sum(action_item_due_notify(item=item, today=today) for item in items)
