"""Thin Celery interfaces to the postmortem services."""

from celery import shared_task


@shared_task(ignore_result=True)
def action_items_remind_task() -> int:
    """Beat: remind owners of action items due today or overdue (once per item per day):
    in the incident's responders thread, and to each owner as a personal notice."""
    from notifications.services import action_items_due_notify
    from postmortems import services

    reminded = services.action_items_remind()
    action_items_due_notify()
    return reminded
