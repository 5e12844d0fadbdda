"""Weekly digest deliveries on the one delivery engine (``notifications.engine``),
registered at start-up like the status page's subscriber notifications: claimed
with a lease, the shared retry policy, the email channel's pause and breaker, the
sweeper and a history row per outcome.

The digest is a plain-text email: an email destination of the audience gets it;
a Slack or webhook destination is skipped with the reason (no thread or event
contract exists for a message that is about no incident)."""

from notifications import engine
from notifications.channels import email as email_channel
from notifications.channels.base import SendResult
from notifications.models import Destination
from reports.models import DigestDelivery

Status = DigestDelivery.Status
NOT_BY_EMAIL = "The weekly digest is sent by email only; this destination is not an email list."


class WeeklyDigests(engine.Producer):
    name = "digest"
    model = DigestDelivery
    channel_field = "destination__kind"
    batchable_kinds = ()

    def locked(self):
        return DigestDelivery.objects.select_for_update(of=("self",), no_key=True).select_related(
            "destination", "digest"
        )

    def channel_kind(self, row) -> str:
        return row.destination.kind

    def breaker_key(self, row) -> str:
        if row.destination.kind == Destination.Kind.EMAIL:
            return email_channel.BREAKER_KEY
        return f"destination:{row.destination_id}"

    def hold(self, row, now):
        if not row.destination.enabled:
            row.status, row.last_error = Status.SKIPPED, "Destination disabled."
        elif row.destination.kind != Destination.Kind.EMAIL:
            row.status, row.last_error = Status.SKIPPED, NOT_BY_EMAIL
        else:
            return None
        engine.save(row, "skipped", ["status", "last_error"])
        return engine.AttemptResult(row.status)

    def send(self, row, prepared: dict) -> SendResult:
        return email_channel.send(
            recipients=row.destination.target.split(","),
            subject=row.digest.subject,
            body=row.digest.body,
            delivery_id=str(row.pk),
        )

    def send_messages(self, ids: list) -> list:
        from reports.tasks import digest_delivery_send_task  # reports.tasks imports this module

        return [(digest_delivery_send_task, (str(pk),)) for pk in ids]

    def describe(self, row) -> str:
        return f"weekly digest {row.digest.week_start:%Y-%m-%d} to {row.destination}"


DIGESTS = WeeklyDigests()
