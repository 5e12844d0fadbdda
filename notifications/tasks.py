"""Thin Celery interfaces to the outbox. ``acks_late`` + ``reject_on_worker_lost``:
a worker killed mid-send gives the message back; the lease and the reconcile
step make the second attempt safe."""

from celery import shared_task
from celery.signals import worker_ready

from common.enqueue import publish, reschedule
from notifications import engine, outbox, services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def delivery_send_task(delivery_id: str) -> str:
    return engine.attempt_task(
        outbox.DELIVERIES, delivery_id, task=delivery_send_task, what="delivery"
    )


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliveries_send_batch_task(delivery_ids: list[str]) -> int:
    """Fan-out fast path: a batch of webhook/email deliveries claimed, sent
    concurrently and recorded together; the rest go the single-delivery way."""
    return engine.attempt_batch_task(
        outbox.DELIVERIES,
        delivery_ids,
        task=delivery_send_task,
        what="deliveries after a batch",
    )


@shared_task(ignore_result=True)
def deliveries_sweep_task() -> int:
    """Beat: re-enqueue what a lost task left behind (broker outage, killed worker),
    for every producer of the delivery engine: team deliveries and subscriber
    notifications alike."""
    swept = 0
    for producer in engine.producers():
        due = engine.due(producer)
        publish(producer.send_messages(due), what=f"swept {producer.name} rows")
        swept += len(due)
    return swept


@shared_task(ignore_result=True)
def cadence_remind_task() -> int:
    """Beat: remind commanders of audiences overdue for an update."""
    return services.cadence_remind()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def slack_request_handle_task(slack_request_id: int, attempt: int = 1) -> str:
    """Carry out a Slack command or button click and answer the Slack user."""
    from notifications.slack import handlers  # the Slack modules enqueue these tasks

    result = handlers.slack_request_handle(slack_request_id, attempt=attempt)
    if result.retry_in is not None:
        reschedule(
            slack_request_handle_task,
            (slack_request_id, attempt + 1),
            countdown=result.retry_in,
            what="Slack request",
        )
    return result.status


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def slack_event_handle_task(slack_event_id: int, attempt: int = 1) -> str:
    """Capture a marked Slack message on its incident's timeline, or apply an edit
    or deletion of a captured one."""
    from notifications.slack import capture  # the Slack modules enqueue these tasks

    result = capture.slack_event_handle(slack_event_id, attempt=attempt)
    if result.retry_in is not None:
        reschedule(
            slack_event_handle_task,
            (slack_event_id, attempt + 1),
            countdown=result.retry_in,
            what="Slack event",
        )
    return result.status


@shared_task(ignore_result=True)
def slack_requests_sweep_task() -> int:
    """Beat: re-enqueue Slack commands and Events API callbacks whose task was lost;
    handling them is idempotent."""
    # the Slack modules enqueue these tasks
    from notifications.slack import capture_records as slack_capture
    from notifications.slack import commands  # the Slack modules enqueue these tasks

    stalled = commands.slack_requests_stalled()
    events = slack_capture.slack_events_stalled()
    publish(
        [(slack_request_handle_task, (slack_request_id,)) for slack_request_id in stalled]
        + [(slack_event_handle_task, (slack_event_id,)) for slack_event_id in events],
        what="stalled Slack requests",
    )
    return len(stalled) + len(events)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def incident_slack_channel_open_task(incident_id: int, attempt: int = 1) -> str:
    """Create the incident's Slack channel, invite its people, post the announcement."""
    from notifications.slack import handlers  # the Slack modules enqueue these tasks

    result = handlers.incident_slack_channel_provision(incident_id, attempt=attempt)
    if result.retry_in is not None:
        reschedule(
            incident_slack_channel_open_task,
            (incident_id, attempt + 1),
            countdown=result.retry_in,
            what="Slack channel",
        )
    return result.status


@shared_task(bind=True, ignore_result=True, expires=60)
def worker_heartbeat_task(self) -> None:
    """Beat: say this worker is alive. It travels beat → broker → worker, so its age
    in /readyz is the age of the whole delivery path, not of one process."""
    services.worker_heartbeat_record(hostname=self.request.hostname or "unknown")


@worker_ready.connect
def _heartbeat_at_start(sender=None, **kwargs) -> None:
    # The beat's first tick is one interval away; a worker that just started is seen now.
    publish([(worker_heartbeat_task, ())], what="first heartbeat")
