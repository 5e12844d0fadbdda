"""Delivery figures for /metrics: is the outbox behind, and is a worker alive."""

from django.utils import timezone

from notifications import selectors


def _age(stamp) -> float:
    return round((timezone.now() - stamp).total_seconds(), 1) if stamp else 0.0


def delivery_metrics() -> list[tuple[str, str, list[tuple[dict, float]]]]:
    seen = selectors.worker_last_seen()
    # Never seen: -1, so an alert on "> 60" and one on "== -1" both fire; 0 would read healthy.
    heartbeat_age = _age(seen) if seen else -1
    return [
        (
            "keel_deliveries",
            "Deliveries by status (every status, zero included).",
            [({"status": status}, n) for status, n in selectors.deliveries_by_status().items()],
        ),
        (
            "keel_outbox_messages",
            "Rows of the delivery engine by producer (delivery, subscriber) and status.",
            [
                ({"producer": producer, "status": status}, n)
                for producer, counts in selectors.outbox_by_status().items()
                for status, n in counts.items()
            ],
        ),
        (
            "keel_deliveries_oldest_pending_age_seconds",
            "Seconds the oldest pending delivery or subscriber notification has waited "
            "(0: nothing pending).",
            [({}, _age(selectors.oldest_pending_created_at()))],
        ),
        (
            "keel_worker_heartbeat_age_seconds",
            "Seconds since a worker last ran the heartbeat task (-1: never seen).",
            [({}, heartbeat_age)],
        ),
    ]
