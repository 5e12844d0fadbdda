from django.db.models import Prefetch, QuerySet

from notifications.models import ChannelPause, Delivery, StatusUpdate


def deliveries_for(*, incident) -> QuerySet[Delivery]:
    return (
        Delivery.objects.filter(update__incident=incident)
        .select_related("destination__audience", "update")
        .order_by("created_at", "destination__name")
    )


def updates_for(*, incident) -> QuerySet[StatusUpdate]:
    return (
        StatusUpdate.objects.filter(incident=incident)
        .select_related("created_by")
        .prefetch_related(
            "audiences",
            Prefetch(
                "deliveries",
                queryset=Delivery.objects.select_related("destination__audience"),
            ),
        )
        .order_by("created_at", "id")
    )


def unreached(*, incident) -> QuerySet[Delivery]:
    """Deliveries that have not (yet) reached their audience and are not on their way."""
    return deliveries_for(incident=incident).filter(
        status__in=[Delivery.Status.FAILED, Delivery.Status.DEAD, Delivery.Status.SKIPPED]
    )


def channel_pauses() -> QuerySet[ChannelPause]:
    return ChannelPause.objects.all()
