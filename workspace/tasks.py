"""Thin Celery interfaces to Settings' outbound work."""

from celery import shared_task

from common import logs
from common.enqueue import reschedule
from workspace import destination_test_sends, slack_check


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def slack_check_run_task(check_id: int) -> str:
    return slack_check.slack_check_run(check_id=check_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def destination_test_send_task(test_send_id: str) -> str:
    with logs.bound(delivery_id=str(test_send_id)):
        result = destination_test_sends.destination_test_send_attempt(test_send_id)
    if result.retry_in is not None:
        reschedule(
            destination_test_send_task, (test_send_id,), countdown=result.retry_in, what="test send"
        )
    return result.status
