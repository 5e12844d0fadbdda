"""Delivery figures for /metrics, read from the database at scrape time: is the
outbox behind, is a remote end failing, is a channel paused, is a worker alive.

Seven queries whatever the number of rows (one per engine producer for its
statuses, plus deliveries by channel, breakers, pauses, updates, heartbeat). The
breaker series are bounded: only breakers with failures recorded, at most
``BREAKER_SERIES_MAX`` of them (the most failing first)."""

from django.db.models import Count, Max, Min
from django.utils import timezone

from common import metrics
from notifications import engine
from notifications.breaker import BREAKER_THRESHOLD
from notifications.models import (
    ChannelPause,
    CircuitBreaker,
    Delivery,
    Destination,
    OutboxStatus,
    StatusUpdate,
    UpdateKind,
    WorkerHeartbeat,
)

BREAKER_SERIES_MAX = 100
UNDELIVERED = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED)


def _age(stamp, now) -> float:
    return round((now - stamp).total_seconds(), 1) if stamp else 0.0


def _producer_rows(producer) -> dict[str, tuple[int, object]]:
    """Status → (count, oldest created_at) for one producer's table: one query."""
    return {
        status: (n, oldest)
        for status, n, oldest in producer.model.objects.values_list("status")
        .annotate(n=Count("pk"), oldest=Min("created_at"))
        .values_list("status", "n", "oldest")
    }


def _outbox_families(now) -> list:
    statuses, backlog, pending_age, undelivered_age = [], [], [], []
    oldest_pending = None
    for producer in engine.producers():
        rows = _producer_rows(producer)
        for status in OutboxStatus.values:
            statuses.append(
                ({"producer": producer.name, "status": status}, rows.get(status, (0,))[0])
            )
        waiting = [rows[s] for s in UNDELIVERED if s in rows]
        backlog.append(({"producer": producer.name}, sum(n for n, _ in waiting)))
        oldest_waiting = min((oldest for _, oldest in waiting), default=None)
        undelivered_age.append(({"producer": producer.name}, _age(oldest_waiting, now)))
        pending = rows.get(OutboxStatus.PENDING, (0, None))[1]
        pending_age.append(({"producer": producer.name}, _age(pending, now)))
        if pending is not None and (oldest_pending is None or pending < oldest_pending):
            oldest_pending = pending
    producer_label = ("producer",)
    return [
        metrics.gauge(
            "keel_outbox_messages",
            "Rows of the delivery engine by producer (delivery: team deliveries; subscriber: "
            "status page subscriber notifications) and status, zeros included.",
            statuses,
            ("producer", "status"),
        ),
        metrics.gauge(
            "keel_outbox_backlog",
            "Rows not delivered yet (pending, sending or failed and retrying) by producer; "
            'producer="subscriber" is the status page subscriber backlog.',
            backlog,
            producer_label,
        ),
        metrics.gauge(
            "keel_outbox_oldest_undelivered_age_seconds",
            "Seconds since the oldest row not delivered yet (pending, sending or retrying) "
            "was created, by producer (0: everything delivered).",
            undelivered_age,
            producer_label,
        ),
        metrics.gauge(
            "keel_outbox_oldest_pending_age_seconds",
            "Seconds the oldest pending row (never attempted yet) has waited, by producer.",
            pending_age,
            producer_label,
        ),
        metrics.gauge(
            "keel_deliveries_oldest_pending_age_seconds",
            "Seconds the oldest pending delivery or subscriber notification has waited "
            "(0: nothing pending).",
            [({}, _age(oldest_pending, now))],
        ),
    ]


def _delivery_families() -> list:
    by_channel = {
        (kind, status): n
        for kind, status, n in Delivery.objects.values_list("destination__kind", "status")
        .annotate(n=Count("pk"))
        .values_list("destination__kind", "status", "n")
    }
    kinds, statuses = Destination.Kind.values, OutboxStatus.values
    return [
        metrics.gauge(
            "keel_deliveries",
            "Team deliveries by status (every status, zero included).",
            [({"status": s}, sum(by_channel.get((k, s), 0) for k in kinds)) for s in statuses],
            ("status",),
        ),
        metrics.gauge(
            "keel_deliveries_by_channel",
            "Team deliveries by channel (slack, email, webhook, statuspage) and outcome "
            "(status: sent, dead, skipped; pending, sending, failed while on their way).",
            [
                ({"channel": k, "status": s}, by_channel.get((k, s), 0))
                for k in kinds
                for s in statuses
            ],
            ("channel", "status"),
        ),
    ]


def _breaker_families() -> list:
    breakers = list(
        CircuitBreaker.objects.exclude(consecutive_failures=0, opened_until=None, last_failure="")
        .order_by("-consecutive_failures", "key")
        .values_list("key", "consecutive_failures")[:BREAKER_SERIES_MAX]
    )
    return [
        metrics.gauge(
            "keel_circuit_breaker_open",
            "1 while the breaker of a remote end is tripped (at least "
            f"{BREAKER_THRESHOLD} transient failures in a row; sends wait, one probe per "
            "cooldown), 0 when it has failures but is still closed. breaker: "
            '"destination:<id>", "subscriber:<id>" or "email:smtp". Clean breakers are left out.',
            [({"breaker": key}, int(n >= BREAKER_THRESHOLD)) for key, n in breakers],
            ("breaker",),
        ),
        metrics.gauge(
            "keel_circuit_breaker_consecutive_failures",
            "Transient failures in a row recorded by each breaker with failures.",
            [({"breaker": key}, n) for key, n in breakers],
            ("breaker",),
        ),
    ]


def collect() -> list:
    now = timezone.now()
    paused = set(ChannelPause.objects.values_list("kind", flat=True))
    updates = dict(StatusUpdate.objects.values_list("kind").annotate(n=Count("pk")))
    seen = WorkerHeartbeat.objects.aggregate(seen=Max("seen_at"))["seen"]
    return [
        *_outbox_families(now),
        *_delivery_families(),
        *_breaker_families(),
        metrics.gauge(
            "keel_channel_paused",
            "1 while a channel is paused (its credentials were refused: every delivery "
            "through it waits until an admin fixes them and resumes it), else 0.",
            [({"channel": kind}, int(kind in paused)) for kind in Destination.Kind.values],
            ("channel",),
        ),
        metrics.counter_family(
            "keel_updates_created",
            "Status updates written, by kind.",
            [({"kind": kind}, updates.get(kind, 0)) for kind in UpdateKind.values],
            ("kind",),
        ),
        metrics.gauge(
            "keel_worker_heartbeat_age_seconds",
            "Seconds since a worker last ran the heartbeat task (-1: never seen).",
            # Never seen: -1, so an alert on "> 60" and one on "== -1" both fire; 0 would
            # read healthy.
            [({}, _age(seen, now) if seen else -1)],
        ),
    ]
