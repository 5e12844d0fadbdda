"""Thin task interfaces to the status page services."""

from celery import shared_task

from notifications.enqueue import reschedule


@shared_task(name="statuspage.tasks.statuspage_publish_snapshot_task", ignore_result=True)
def statuspage_publish_snapshot_task(requested_at: str | None = None) -> str:
    """Render every public page, JSON document, feed and badge into a new snapshot.

    ``requested_at`` (ISO, stamped after the change committed) coalesces bursts:
    a snapshot generated after it already shows the change, so nothing is done.
    """
    from datetime import datetime

    from statuspage import snapshot

    if requested_at:
        current = snapshot.generated_at()
        if current is not None and current >= datetime.fromisoformat(requested_at):
            return "fresh"
    return str(snapshot.snapshot_publish())


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def subscriber_notification_send_task(notification_id: str) -> None:
    from statuspage import subscriptions

    wait = subscriptions.notification_attempt(notification_id)
    if wait is not None:
        reschedule(
            subscriber_notification_send_task,
            (notification_id,),
            countdown=wait,
            what="subscriber notification",
        )


@shared_task(ignore_result=True)
def subscriber_notifications_sweep_task() -> int:
    """Beat: re-enqueue subscriber messages whose task was lost."""
    from statuspage import subscriptions

    due = subscriptions.notifications_due()
    for notification_id in due:
        subscriber_notification_send_task.delay(str(notification_id))
    return len(due)


@shared_task(ignore_result=True)
def statuspage_maintenances_advance_task() -> dict:
    """Beat: start/complete maintenances on time; remind subscribers before a start."""
    from statuspage import maintenance

    return {
        "moved": maintenance.maintenances_advance(),
        "reminded": maintenance.maintenances_remind(),
    }
