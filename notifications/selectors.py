import functools
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import (
    Count,
    Max,
    Min,
    Prefetch,
    Q,
    QuerySet,
)
from django.utils import timezone

from common import keyset
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
    so, and reads the pauses and breakers only then). Leaves on each audience what
    ``prefetch_related("destinations")`` would, each destination's audience set.

    The statement is written out (``_destinations_sql``): built by the ORM, its three
    correlated subqueries cost ~2 ms of Python on every declare and status update,
    ten times what running it takes."""
    if not audiences:
        return
    ids = [audience.pk for audience in audiences]
    params = [
        Destination.Kind.EMAIL,
        incident_id,
        Delivery.Status.SKIPPED,
        "destination:",
        connection.ops.adapt_datetimefield_value(timezone.now()),
        *ids,
    ]
    of_audience: dict[int, list[Destination]] = {pk: [] for pk in ids}
    root_field = Delivery._meta.pk
    for destination in Destination.objects.raw(_destinations_sql(len(ids)), params):
        root = destination.thread_root_pk
        destination.thread_root_pk = None if root is None else root_field.to_python(root)
        destination.channel_paused = bool(destination.channel_paused)
        destination.breaker_open = bool(destination.breaker_open)
        of_audience[destination.audience_id].append(destination)
    audience_field = Destination._meta.get_field("audience")
    for audience in audiences:
        for destination in of_audience[audience.pk]:
            audience_field.set_cached_value(destination, audience)
        cache_prefetched(audience, "destinations", of_audience[audience.pk])


@functools.cache
def _destinations_sql(audiences: int) -> str:
    """The destinations of ``audiences`` audiences in the relation's order (audience,
    name), with the incident's first email to each not skipped (email destinations
    only: nothing else threads), whether its channel kind is paused and whether its
    breaker (``destination:<id>``) is open.

    The first email is sought in the order the incident's updates were written (each
    delivery is written with its update): a walk of the ``(incident, created_at, id)``
    index that stops at the first update with a delivery to the destination, usually
    the first. Ordered by the deliveries' own time, it read every delivery of every
    update of the incident (9 ms at 300 updates, on every further update)."""
    quote = connection.ops.quote_name
    delivery, update, destination = Delivery._meta, StatusUpdate._meta, Destination._meta

    def column(meta, name: str) -> str:
        return quote(meta.get_field(name).column)

    return f"""
        SELECT d.*,
          CASE WHEN d.{column(destination, "kind")} = %s THEN
          (SELECT x.{column(delivery, "id")} FROM {quote(update.db_table)} u
           INNER JOIN {quote(delivery.db_table)} x
             ON x.{column(delivery, "update")} = u.{column(update, "id")}
           WHERE u.{column(update, "incident")} = %s
             AND x.{column(delivery, "destination")} = d.{column(destination, "id")}
             AND x.{column(delivery, "status")} <> %s
           ORDER BY u.{column(update, "created_at")}, u.{column(update, "id")}
           LIMIT 1) END AS thread_root_pk,
          EXISTS (SELECT 1 FROM {quote(ChannelPause._meta.db_table)} p
                  WHERE p.{column(ChannelPause._meta, "kind")} = d.{column(destination, "kind")})
            AS channel_paused,
          EXISTS (SELECT 1 FROM {quote(CircuitBreaker._meta.db_table)} b
                  WHERE b.{column(CircuitBreaker._meta, "key")}
                        = %s || CAST(d.{column(destination, "id")} AS VARCHAR(20))
                    AND b.{column(CircuitBreaker._meta, "opened_until")} > %s)
            AS breaker_open
        FROM {quote(destination.db_table)} d
        WHERE d.{column(destination, "audience")} IN ({", ".join(["%s"] * audiences)})
        ORDER BY d.{column(destination, "audience")}, d.{column(destination, "name")}
    """


def deliveries_for(*, incident) -> QuerySet[Delivery]:
    return (
        Delivery.objects.filter(update__incident=incident)
        .select_related("destination__audience", "update")
        .order_by("created_at", "destination__name")
    )


# A page of an incident's deliveries, on the Communications tab and in the API: oldest
# first, continued by one cursor (``common.keyset``).
DELIVERIES_PAGE = 100
DELIVERIES_ORDER = ("created_at", "destination__name", "pk")
_DELIVERIES_CURSOR = (datetime.fromisoformat, str, uuid.UUID)


def deliveries_page(*, incident, cursor: str | None, size: int) -> keyset.Slice:
    """Up to ``size`` of the incident's deliveries after ``cursor`` (from the oldest
    when None), joined as ``deliveries_for`` joins them: one query.
    ``keyset.InvalidCursor`` when the cursor is not one of this list's."""
    return keyset.forward_slice(
        deliveries_for(incident=incident),
        name="deliveries",
        keys=DELIVERIES_ORDER,
        parsers=_DELIVERIES_CURSOR,
        size=size,
        cursor=cursor,
    )


def deliveries_counted(*, incident) -> tuple[int, bool]:
    """How many deliveries the incident has, ``keyset.capped_count``: one query that
    reads at most ``KEEL_LIST_COUNT_CAP + 1`` rows."""
    return keyset.capped_count(Delivery.objects.filter(update__incident=incident))


def latest_updates_for(*, incident, limit: int) -> list[StatusUpdate]:
    """The incident's ``limit + 1`` newest updates (one more than shown says there are
    older ones), newest first, with their authors and audiences, and how many
    deliveries each has and how many of those are sent (``delivery_count``,
    ``sent_count``, counted in the database): two queries however many deliveries."""
    sent = Q(deliveries__status=Delivery.Status.SENT)
    return list(
        StatusUpdate.objects.filter(incident=incident)
        .select_related("created_by")
        .prefetch_related("audiences")
        .annotate(delivery_count=Count("deliveries"), sent_count=Count("deliveries", filter=sent))
        .order_by("-created_at", "-id")[: limit + 1]
    )


def updates_for(*, incident) -> QuerySet[StatusUpdate]:
    return (
        StatusUpdate.objects.filter(incident=incident)
        .select_related("created_by")
        .prefetch_related(
            "audiences",
            Prefetch(
                "deliveries",
                queryset=Delivery.objects.select_related("destination__audience").order_by(
                    "created_at", "destination__name", "pk"
                ),
            ),
        )
        .order_by(*UPDATES_ORDER)
    )


# A page of an incident's updates in the API: oldest first (over the index
# ``update_incident_order``), each with its deliveries, continued by one cursor.
UPDATES_PAGE = 50
UPDATES_ORDER = ("created_at", "id")
_UPDATES_CURSOR = (datetime.fromisoformat, int)


def updates_page(*, incident, cursor: str | None, size: int) -> keyset.Slice:
    """Up to ``size`` of the incident's updates after ``cursor`` (from the oldest when
    None), with their authors, audiences and deliveries: three queries however many
    there are. ``keyset.InvalidCursor`` when the cursor is not one of this list's."""
    return keyset.forward_slice(
        updates_for(incident=incident),
        name="updates",
        keys=UPDATES_ORDER,
        parsers=_UPDATES_CURSOR,
        size=size,
        cursor=cursor,
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
