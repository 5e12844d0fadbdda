"""Readiness checks of the delivery path, registered with ``common.health`` at
start-up: is a worker alive, and is anything waiting too long."""

import time

from django.conf import settings
from django.utils import timezone

from common.health import CheckResult
from notifications import selectors


def _elapsed_ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def delivery_checks() -> list[CheckResult]:
    """``worker_heartbeat``: a worker ran the beat's heartbeat task recently.
    ``deliveries``: no delivery has been pending longer than its limit."""
    started = time.monotonic()
    now = timezone.now()
    limit = settings.KEEL_WORKER_HEARTBEAT_MAX_AGE_SECONDS
    seen = selectors.worker_last_seen()
    if seen is None:
        heartbeat = CheckResult(
            "worker_heartbeat", False, "no worker has been seen", _elapsed_ms(started)
        )
    else:
        age = int((now - seen).total_seconds())
        heartbeat = CheckResult(
            "worker_heartbeat",
            age <= limit,
            f"a worker was last seen {age} s ago (limit {limit} s)",
            _elapsed_ms(started),
        )
    started = time.monotonic()
    limit = settings.KEEL_DELIVERY_PENDING_MAX_AGE_SECONDS
    oldest = selectors.oldest_pending_created_at()
    if oldest is None:
        deliveries = CheckResult("deliveries", True, "nothing pending", _elapsed_ms(started))
    else:
        age = int((now - oldest).total_seconds())
        deliveries = CheckResult(
            "deliveries",
            age <= limit,
            f"the oldest pending delivery has waited {age} s (limit {limit} s)",
            _elapsed_ms(started),
        )
    return [heartbeat, deliveries]
