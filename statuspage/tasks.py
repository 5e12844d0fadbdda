"""Thin task interfaces to the status page services."""

from celery import shared_task

from notifications import engine
from statuspage import snapshot


@shared_task(name="statuspage.tasks.statuspage_publish_snapshot_task", ignore_result=True)
def statuspage_publish_snapshot_task(requested_at: str | None = None) -> str:
    """Render every public page, JSON document, feed and badge into a new snapshot.

    ``requested_at`` (ISO, stamped after the change committed) coalesces bursts:
    a snapshot generated after it already shows the change, so nothing is done.
    """
    from datetime import datetime

    if requested_at:
        current = snapshot.generated_at()
        if current is not None and current >= datetime.fromisoformat(requested_at):
            return "fresh"
    return str(snapshot.snapshot_publish())


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def subscriber_notification_send_task(notification_id: str) -> str:
    """One subscriber notification through the delivery engine."""
    from statuspage.subscriber_outbox import SUBSCRIBERS  # it imports these tasks

    return engine.attempt_task(
        SUBSCRIBERS,
        notification_id,
        task=subscriber_notification_send_task,
        what="subscriber notification",
    )


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def subscriber_notifications_send_batch_task(notification_ids: list[str]) -> int:
    """Fan-out fast path (``engine.attempt_batch``); what it cannot claim, and its
    retries, go one by one."""
    from statuspage.subscriber_outbox import SUBSCRIBERS  # it imports these tasks

    return engine.attempt_batch_task(
        SUBSCRIBERS,
        notification_ids,
        task=subscriber_notification_send_task,
        what="subscriber notifications after a batch",
    )


@shared_task(ignore_result=True)
def statuspage_maintenances_advance_task() -> dict:
    """Beat: start/complete maintenances on time; remind subscribers before a start."""
    # Deferred: maintenance_beat → subscriptions → subscriber_outbox → these tasks.
    from statuspage import maintenance_beat

    return {
        "moved": maintenance_beat.maintenances_advance(),
        "reminded": maintenance_beat.maintenances_remind(),
    }
