"""Action item figures for /metrics (one query)."""

from django.db.models import Count
from django.utils import timezone

from common import metrics
from postmortems.models import ActionItem

UNFINISHED = (ActionItem.Status.OPEN, ActionItem.Status.IN_PROGRESS)


def collect() -> list:
    today = timezone.localdate()
    overdue = dict(
        ActionItem.objects.filter(status__in=UNFINISHED, due_date__lt=today)
        .values_list("priority")
        .annotate(n=Count("pk"))
    )
    return [
        metrics.gauge(
            "keel_action_items_overdue",
            "Action items past their due date and not done (open or in progress), by priority.",
            [({"priority": p}, overdue.get(p, 0)) for p in ActionItem.Priority.values],
            ("priority",),
        ),
    ]
