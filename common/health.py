"""Dependency checks for ``/readyz``: each bounded by a timeout, each reported.

Seed 003: a process reported healthy while every DB connection timed out.
Readiness therefore runs a real query and a real broker round trip.
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str
    millis: float


def _timed(name: str, probe) -> CheckResult:
    started = time.monotonic()
    try:
        detail = probe()
        ok = True
    except Exception as exc:  # any failure of a dependency is a "not ready", never a 500
        detail = f"{type(exc).__name__}: {exc}"[:300]
        ok = False
    return CheckResult(name, ok, detail, round((time.monotonic() - started) * 1000, 1))


def check_database() -> CheckResult:
    def probe():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return connection.vendor

    return _timed("database", probe)


BROKER_TIMEOUT_SECONDS = 2


def check_broker() -> CheckResult:
    """Open a real connection to the broker configured *now* (settings, not the
    Celery app's cached config), with one attempt and short timeouts."""

    def probe():
        from kombu import Connection

        options = {
            **getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}),
            "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
            "socket_timeout": BROKER_TIMEOUT_SECONDS,
            "max_retries": 0,
        }
        with Connection(
            settings.CELERY_BROKER_URL,
            connect_timeout=BROKER_TIMEOUT_SECONDS,
            transport_options=options,
        ) as conn:
            conn.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS
            )
            return conn.transport.driver_name

    return _timed("broker", probe)


def check_redis() -> CheckResult | None:
    if not settings.REDIS_URL:
        return None

    def probe():
        import redis

        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2
        )
        client.ping()
        return "pong"

    return _timed("redis", probe)


def check_statuspage_snapshot() -> CheckResult | None:
    """The public status page snapshot is fresh: a stalled publisher (workers or
    beat down) would leave customers reading an old page without anyone noticing.
    None (no check) before the first snapshot: the first change, the beat or the
    first /status/ request publishes it."""
    from statuspage.snapshot import generated_at

    try:
        stamp = generated_at()
    except Exception:
        stamp = None
    if stamp is None:
        return None

    def probe():
        from django.utils import timezone

        age = (timezone.now() - stamp).total_seconds()
        limit = settings.STATUSPAGE_SNAPSHOT_MAX_AGE_SECONDS
        if age > limit:
            raise RuntimeError(f"snapshot is {int(age)} s old (limit {limit} s)")
        return f"{int(age)} s old"

    return _timed("statuspage_snapshot", probe)


def readiness() -> list[CheckResult]:
    results = [check_database(), check_broker()]
    redis_result = check_redis()
    if redis_result is not None:
        results.append(redis_result)
    snapshot_result = check_statuspage_snapshot()
    if snapshot_result is not None:
        results.append(snapshot_result)
    return results
