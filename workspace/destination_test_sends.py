"""Test sends on the delivery engine: a **Send test** on a destination is an
outbox row (``DestinationTestSend``) sent like a delivery (channel pause, breaker, retry,
sweeper), so a test shows what a real announcement would meet."""

import time

from django.utils import timezone

from common import webhook_contracts
from notifications import engine, outbox
from notifications.channels import email as email_channel
from notifications.channels import webhook as webhook_channel
from notifications.channels.base import Outcome, SendResult
from notifications.models import Destination
from notifications.slack import credentials
from notifications.slack.client import SlackChannel, SlackFailure
from workspace.models import DestinationTestSend
from workspace.tasks import destination_test_send_task

Status = DestinationTestSend.Status
SENDABLE_KINDS = (Destination.Kind.SLACK, Destination.Kind.EMAIL, Destination.Kind.WEBHOOK)
TEST_EVENT = "destination.test"
# Test messages say they are tests in every channel's own words.
TEST_TEXT = (
    "Test message from Keel: this destination ({name}, audience {audience}) is set up. "
    "Sent by {who} from Settings. No incident is behind it."
)
TEST_SUBJECT = "[Keel] Test message for {audience}"


def _send_slack(row: DestinationTestSend) -> SendResult:
    left = (row.lease_until - timezone.now()).total_seconds()
    slack = SlackChannel(deadline=time.monotonic() + left - outbox.LEASE_MARGIN_SECONDS)
    try:
        channel = slack.resolve_channel(row.destination.target)
        if row.total_attempts > 1:  # an earlier attempt may have posted without hearing back
            ts = slack.find_posted(
                channel=channel,
                delivery_id=str(row.pk),
                since=row.created_at.timestamp(),
                thread_ts=None,
            )
            if ts:
                return SendResult.sent(ts)
        ts = slack.post(
            channel=channel,
            text=row.rendered_text,
            blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": row.rendered_text}}],
            delivery_id=str(row.pk),
            incident_id=0,
        )
    except SlackFailure as failure:
        return failure.result
    return SendResult.sent(ts)


def webhook_payload(row: DestinationTestSend) -> dict:
    """The signed body of a webhook test: the ``destination.test`` contract."""
    requester = row.requested_by
    return {
        "type": TEST_EVENT,
        "version": webhook_contracts.VERSIONS[TEST_EVENT],
        "timestamp": row.created_at.isoformat(),
        "data": {
            "destination": {
                "id": row.destination_id,
                "name": row.destination.name,
                "audience": row.destination.audience.slug,
            },
            "message": row.rendered_text,
            "requested_by": requester.get_username() if requester else "",
        },
    }


class DestinationTests(engine.Producer):
    name = "test_send"
    model = DestinationTestSend
    channel_field = "destination__kind"
    batchable_kinds = ()

    def locked(self):
        return DestinationTestSend.objects.select_for_update(
            of=("self",), no_key=True
        ).select_related("destination__audience")

    def channel_kind(self, row) -> str:
        return row.destination.kind

    def channel_label(self, row) -> str:
        return row.destination.get_kind_display()

    def breaker_key(self, row) -> str:
        return outbox.destination_breaker_key(row.destination)

    def lease_seconds(self, row) -> float:
        return outbox.lease_seconds(row.destination.kind)

    def send(self, row, prepared: dict) -> SendResult:
        destination = row.destination
        if destination.kind == Destination.Kind.SLACK:
            if not credentials.bot_token():
                return SendResult(Outcome.CREDENTIALS, error=credentials.BOT_TOKEN_MISSING)
            return _send_slack(row)
        if destination.kind == Destination.Kind.EMAIL:
            return email_channel.send(
                recipients=destination.target.split(","),
                subject=row.rendered_subject,
                body=row.rendered_text,
                delivery_id=str(row.pk),
                headers={"X-Keel-Test": "1"},
            )
        if destination.kind == Destination.Kind.WEBHOOK:
            return webhook_channel.send(
                url=destination.target,
                secret=destination.secret,
                message_id=str(row.pk),
                payload=webhook_payload(row),
            )
        return SendResult(Outcome.PERMANENT, error=f"No test for {destination.kind} destinations.")

    def send_messages(self, ids: list) -> list:
        return [(destination_test_send_task, (str(pk),)) for pk in ids]

    def describe(self, row) -> str:
        return f"test to {row.destination}"


DESTINATION_TESTS = DestinationTests()


def destination_test_send_attempt(test_send_id) -> engine.AttemptResult:
    return engine.attempt(DESTINATION_TESTS, test_send_id)
