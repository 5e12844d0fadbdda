"""Thin Celery interfaces to the incidents app (alert flap damping)."""

from celery import shared_task

from incidents.intake import settle


@shared_task(ignore_result=True)
def alert_incident_settle_task(incident_id: int) -> str:
    return settle.incident_settle(incident_id=incident_id)


@shared_task(ignore_result=True)
def alert_groups_settle_task() -> int:
    return settle.groups_settle_due()
