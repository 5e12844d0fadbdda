"""Thin Celery interfaces to the postmortem services."""

from celery import shared_task


@shared_task(ignore_result=True)
def action_items_remind_task() -> int:
    """Beat: remind owners of action items due today or overdue (once per item per day)."""
    from postmortems import services

    return services.action_items_remind()
