"""Thin Celery interfaces to the postmortem services."""

from celery import shared_task

from postmortems import reminders, services


@shared_task(ignore_result=True)
def action_items_remind_task() -> int:
    """Beat: remind owners of action items due today or overdue (once per item per day):
    in the incident's responders thread, and to each owner as a personal notice."""
    reminded = services.action_items_remind()
    reminders.action_items_due_notify()
    return reminded
