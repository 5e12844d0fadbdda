"""Thin task interfaces to the weekly digest."""

from celery import shared_task

from notifications import engine
from reports.outbox import DIGESTS


@shared_task(ignore_result=True)
def weekly_digest_task() -> str:
    """Beat (hourly): write last week's digest once and queue its deliveries; every
    later run that week finds it written and does nothing."""
    from reports import digest  # it imports these tasks

    written = digest.weekly_digest_post()
    return f"written {written.week_start}" if written else "already written"


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def digest_delivery_send_task(delivery_id: str) -> str:
    """One digest delivery through the delivery engine."""
    return engine.attempt_task(
        DIGESTS, delivery_id, task=digest_delivery_send_task, what="digest delivery"
    )
