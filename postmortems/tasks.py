"""Thin Celery interfaces to the postmortem services."""

from celery import shared_task

from common.enqueue import publish
from postmortems import evidence, reminders, services


@shared_task(ignore_result=True)
def action_items_remind_task() -> int:
    """Beat: remind owners of action items due today or overdue (once per item per day):
    in the incident's responders thread, and to each owner as a personal notice."""
    reminded = services.action_items_remind()
    reminders.action_items_due_notify()
    return reminded


@shared_task(ignore_result=True)
def action_items_check_evidence_task() -> int:
    """Beat: re-check every action item's evidence, one task per link."""
    ids = evidence.evidences_to_check()
    return publish([(action_item_evidence_check_task, (pk,)) for pk in ids], what="evidence checks")


@shared_task(ignore_result=True)
def action_item_evidence_check_task(evidence_id: int) -> str | None:
    """Fetch one link's series (if it is a query) and record whether it is verified."""
    return evidence.evidence_check(evidence_id=evidence_id)
