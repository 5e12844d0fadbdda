"""Status page figures for /metrics: how old the published snapshot is (a file
read, no query) and the confirmed subscribers (one query)."""

from django.db.models import Count
from django.utils import timezone

from common import metrics
from statuspage import snapshot
from statuspage.subscriber_models import Subscriber


def collect() -> list:
    try:
        stamp = snapshot.generated_at()
    except (OSError, ValueError):
        stamp = None
    age = (timezone.now() - stamp).total_seconds() if stamp else -1
    active = dict(
        Subscriber.objects.filter(confirmed_at__isnull=False, unsubscribed_at__isnull=True)
        .values_list("kind")
        .annotate(n=Count("pk"))
    )
    return [
        metrics.gauge(
            "keel_statuspage_snapshot_age_seconds",
            "Seconds since the public status page snapshot was generated (-1: never "
            "published). Customers read this snapshot: if it is old, they read old news.",
            [({}, round(age, 1))],
        ),
        metrics.gauge(
            "keel_statuspage_subscribers",
            "Confirmed, subscribed status page subscribers by kind.",
            [({"kind": kind}, active.get(kind, 0)) for kind in Subscriber.Kind.values],
            ("kind",),
        ),
    ]
