"""The "publish to status page" channel: applies a public status update to the
statuspage models (no network call), then the snapshot task republishes.

Outcomes: SENT with the published update's public id; PERMANENT when the update
cannot ever be published (no public status, unknown component slug, no public
title the first time); RETRY while an earlier public update of the same incident
is still waiting, so the page never shows updates out of order.
"""

from notifications.channels.base import Outcome, SendResult


def send(delivery) -> SendResult:
    from common.exceptions import ApplicationError
    from notifications.models import Delivery, Destination, StatusUpdate
    from statuspage import services

    update = delivery.update
    if not update.public_status:
        return SendResult(Outcome.PERMANENT, error="Not a public update: it has no public status.")
    earlier = (
        StatusUpdate.objects.filter(
            incident_id=update.incident_id,
            public_update__isnull=True,
            deliveries__destination__kind=Destination.Kind.STATUSPAGE,
            deliveries__status__in=[
                Delivery.Status.PENDING,
                Delivery.Status.SENDING,
                Delivery.Status.FAILED,
            ],
        )
        .exclude(pk=update.pk)
        .filter(created_at__lt=update.created_at)
    )
    if earlier.exists():
        return SendResult.retry(
            "An earlier public update of this incident is not published yet.", 2.0
        )
    try:
        published = services.public_incident_publish(update=update)
    except ApplicationError as exc:
        return SendResult(Outcome.PERMANENT, error=exc.message)
    return SendResult.sent(published.public_id)
