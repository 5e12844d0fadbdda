"""Thin Celery interfaces to the outbox. ``acks_late`` + ``reject_on_worker_lost``:
a worker killed mid-send gives the message back; the lease and the reconcile
step make the second attempt safe."""

from celery import shared_task

from common import logs
from notifications import outbox


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def delivery_send_task(delivery_id: str) -> str:
    with logs.bound(delivery_id=str(delivery_id)):
        result = outbox.delivery_attempt(delivery_id)
    if result.retry_in is not None:
        # Reschedule instead of sleeping: the worker slot is free meanwhile.
        delivery_send_task.apply_async((delivery_id,), countdown=max(result.retry_in, 0.5))
    return result.status


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliveries_send_batch_task(delivery_ids: list[str]) -> int:
    """Fan-out fast path: a batch of webhook/email deliveries claimed, sent
    concurrently and recorded together; the rest go the single-delivery way."""
    outcomes, fallback = outbox.deliveries_attempt_batch(delivery_ids)
    for delivery_id, result in outcomes:
        if result.retry_in is not None:
            delivery_send_task.apply_async((str(delivery_id),), countdown=max(result.retry_in, 0.5))
    for delivery_id in fallback:
        delivery_send_task.delay(str(delivery_id))
    return len(outcomes)


@shared_task(ignore_result=True)
def deliveries_sweep_task() -> int:
    """Beat: re-enqueue deliveries whose task was lost (broker outage, killed worker)."""
    due = outbox.deliveries_due()
    for delivery_id in due:
        delivery_send_task.delay(str(delivery_id))
    return len(due)


@shared_task(ignore_result=True)
def cadence_remind_task() -> int:
    """Beat: remind commanders of audiences overdue for an update."""
    from notifications import services

    return services.cadence_remind()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def slack_request_handle_task(slack_request_id: int, attempt: int = 1) -> str:
    """Carry out a Slack command or button click and answer the Slack user."""
    from notifications.slack import handlers

    result = handlers.slack_request_handle(slack_request_id, attempt=attempt)
    if result.retry_in is not None:
        slack_request_handle_task.apply_async(
            (slack_request_id, attempt + 1), countdown=max(result.retry_in, 0.5)
        )
    return result.status


@shared_task(ignore_result=True)
def slack_requests_sweep_task() -> int:
    """Beat: re-enqueue Slack commands whose task was lost; handling them is idempotent."""
    from notifications import services

    stalled = services.slack_requests_stalled()
    for slack_request_id in stalled:
        slack_request_handle_task.delay(slack_request_id)
    return len(stalled)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def incident_slack_channel_open_task(incident_id: int, attempt: int = 1) -> str:
    """Create the incident's Slack channel, invite its people, post the announcement."""
    from notifications.slack import handlers

    result = handlers.incident_slack_channel_provision(incident_id, attempt=attempt)
    if result.retry_in is not None:
        incident_slack_channel_open_task.apply_async(
            (incident_id, attempt + 1), countdown=max(result.retry_in, 0.5)
        )
    return result.status
