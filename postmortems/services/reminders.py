"""The beat's action item reminders in the incident's responders thread."""

from datetime import date

from django.db import transaction
from django.utils import timezone

from incidents.models import TimelineEvent
from notifications.models import UpdateKind
from notifications.services import update_post
from postmortems.models import ActionItem, ActionItemReminder

Source = TimelineEvent.Source


def action_items_remind(*, today: date | None = None) -> int:
    """Beat: tell owners about items due today or overdue, once per item per day, through
    the outbox (a status update to the incident's responders). Returns items reminded.

    For a private incident the visibility gate in ``notifications.services.update_post``
    sends the reminder to no audience: it stays on the incident's page and timeline."""

    today = today or timezone.localdate()
    due = (
        ActionItem.objects.filter(due_date__lte=today, owner__isnull=False)
        .exclude(status__in=[ActionItem.Status.DONE, ActionItem.Status.WONT_DO])
        .exclude(reminders__sent_on=today)
        .select_related("owner", "postmortem__incident")
        .order_by("postmortem__incident_id", "due_date", "pk")
    )
    by_incident: dict[int, list[ActionItem]] = {}
    for item in due:
        by_incident.setdefault(item.postmortem.incident_id, []).append(item)
    reminded = 0
    for items in by_incident.values():
        with transaction.atomic():
            fresh = []
            for item in items:
                _, created = ActionItemReminder.objects.get_or_create(
                    action_item=item, sent_on=today, defaults={"overdue": item.due_date < today}
                )
                if created:
                    fresh.append(item)
            if not fresh:
                continue
            lines = []
            for item in fresh:
                state = (
                    f"overdue since {item.due_date:%Y-%m-%d}"
                    if item.due_date < today
                    else "due today"
                )
                lines.append(f"• @{item.owner.get_username()}: “{item.title}” is {state}.")
            update_post(
                incident=fresh[0].postmortem.incident,
                message="Action item reminder\n" + "\n".join(lines),
                actor=None,
                audiences=["responders"],
                kind=UpdateKind.REMINDER,
                source=Source.SYSTEM,
            )
            reminded += len(fresh)
    return reminded
