from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    CharField,
    Count,
    Exists,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    prefetch_related_objects,
)
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from common.epoch import EpochSeconds
from common.prefetch import cache_prefetched
from notifications import engine
from notifications.models import (
    Audience,
    ChannelPause,
    CircuitBreaker,
    Delivery,
    Destination,
    StatusUpdate,
    UpdateKind,
    WorkerHeartbeat,
)


def update_as_posted(update: StatusUpdate) -> StatusUpdate:
    """The update ``update_post`` just wrote, with its audiences and deliveries as
    ``updates_for`` would read them, from what the write holds."""
    audiences, deliveries = update.posted
    cache_prefetched(update, "audiences", audiences)
    cache_prefetched(update, "deliveries", deliveries)
    return update


def audience_destinations_prefetch(audiences: list[Audience], *, incident_id: int) -> None:
    """Every destination of ``audiences`` in one query, each with what writing its
    delivery needs: ``thread_root_pk``, the incident's first email to it that was to
    be sent (later ones answer it, so they thread), and whether its channel is paused
    or its breaker open (``channel_paused``, ``breaker_open``: the posted notice says
    so, and reads the pauses and breakers only then)."""
    first_sent = (
        Delivery.objects.filter(update__incident_id=incident_id, destination=OuterRef("pk"))
        .exclude(status=Delivery.Status.SKIPPED)
        .order_by("created_at", "pk")
        .values("pk")[:1]
    )
    breaker_key = Concat(Value("destination:"), Cast(OuterRef("pk"), CharField()))
    destinations = Destination.objects.annotate(
        thread_root_pk=Subquery(first_sent),
        channel_paused=Exists(ChannelPause.objects.filter(kind=OuterRef("kind"))),
        breaker_open=Exists(
            CircuitBreaker.objects.filter(key=breaker_key, opened_until__gt=timezone.now())
        ),
    )
    prefetch_related_objects(audiences, Prefetch("destinations", queryset=destinations))


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


def channel_pauses() -> QuerySet[ChannelPause]:
    return ChannelPause.objects.all()


def worker_last_seen() -> datetime | None:
    """When any worker last ran the heartbeat task (None: never)."""
    return WorkerHeartbeat.objects.aggregate(seen=Max("seen_at"))["seen"]


def oldest_pending_created_at() -> datetime | None:
    """The oldest row still pending in any of the engine's tables (team deliveries,
    subscriber notifications)."""
    oldest = [
        producer.model.objects.filter(status=Delivery.Status.PENDING).aggregate(
            oldest=Min("created_at")
        )["oldest"]
        for producer in engine.producers()
    ]
    return min((stamp for stamp in oldest if stamp is not None), default=None)


def outbox_by_status() -> dict[str, dict[str, int]]:
    """Producer name → every status and its count (zeros included)."""
    result = {}
    for producer in engine.producers():
        counts = dict(producer.model.objects.values_list("status").annotate(n=Count("pk")))
        result[producer.name] = {s: counts.get(s, 0) for s in Delivery.Status.values}
    return result


def deliveries_by_status() -> dict[str, int]:
    """Every status, those with no delivery included (a gauge at 0, not a missing one)."""
    counts = dict(Delivery.objects.values_list("status").annotate(n=Count("pk")))
    return {status: counts.get(status, 0) for status in Delivery.Status.values}


@dataclass(frozen=True)
class Waiting:
    """An incident's deliveries not yet on their way: how many updates, since when."""

    updates: int
    deliveries: int
    oldest_at: datetime

    @property
    def seconds(self) -> float:
        return (timezone.now() - self.oldest_at).total_seconds()


@dataclass(frozen=True)
class Unsent:
    """An incident's deliveries not sent (yet), and those not yet on their way."""

    count: int
    waiting: Waiting | None


def unsent_for(*, incident) -> Unsent:
    """How many of the incident's deliveries are not sent, and those waiting for a
    worker (pending): one query. None unsent: no delivery of it can be in trouble
    (``notifications.problems``), and the banner reads no more."""
    pending = Q(status=Delivery.Status.PENDING)
    row = (
        Delivery.objects.filter(update__incident=incident)
        .exclude(status=Delivery.Status.SENT)
        .aggregate(
            unsent=Count("pk"),
            updates=Count("update", distinct=True, filter=pending),
            deliveries=Count("pk", filter=pending),
            oldest=Min("created_at", filter=pending),
        )
    )
    waiting = None
    if row["deliveries"]:
        waiting = Waiting(row["updates"], row["deliveries"], row["oldest"])
    return Unsent(row["unsent"], waiting)


def first_deliveries_by_audience(*, incidents: QuerySet) -> list[tuple[int, int, float]]:
    """(incident id, audience id, first sent_at) for each audience told about each of
    ``incidents`` (one query), times in epoch seconds (``common.epoch``: the reports
    read thousands). Personal notices and reminders are not propagation."""
    return list(
        Delivery.objects.filter(
            update__incident__in=incidents,
            status=Delivery.Status.SENT,
            sent_at__isnull=False,
            destination__user__isnull=True,
        )
        .exclude(update__kind__in=[UpdateKind.PERSONAL, UpdateKind.REMINDER])
        .values("update__incident_id", "destination__audience_id")
        .annotate(first=EpochSeconds(Min("sent_at")))
        .values_list("update__incident_id", "destination__audience_id", "first")
    )


def update_times(*, incidents: QuerySet) -> list[tuple[int, float, float | None]]:
    """(incident id, created_at, promised next_update_at) of every update written about
    ``incidents`` that an audience waits for (one query; reminders and personal notices
    are not updates), oldest first; times in epoch seconds (``common.epoch``)."""
    return list(
        StatusUpdate.objects.filter(incident__in=incidents)
        .exclude(kind__in=[UpdateKind.PERSONAL, UpdateKind.REMINDER])
        .order_by("incident_id", "created_at", "pk")
        .values_list(
            "incident_id",
            EpochSeconds("created_at"),
            EpochSeconds("next_update_at"),
        )
    )


def report_audiences() -> list[tuple[int, str]]:
    """(id, name) of the audiences propagation is measured for: the active ones."""
    return list(Audience.objects.filter(active=True).order_by("pk").values_list("pk", "name"))
