"""Dependency checks for ``/readyz``: each bounded by a timeout, each reported.

Seed 003: a process reported healthy while every DB connection timed out.
Readiness therefore runs a real query and a real broker round trip.

Each check runs in a thread of its own and the answer waits for them at most
``KEEL_READINESS_TIMEOUT_SECONDS`` in all: a dependency that stops answering
(a frozen database or Redis) is reported as "no answer", it does not hang the
answer. A check still stuck from an earlier call is not started again, so a
long outage polled every few seconds does not pile up threads.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, connections


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str
    millis: float


def timed_check(name: str, probe) -> CheckResult:
    """Run ``probe`` (returns a detail string, raises when not ready) and time it."""
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

    return timed_check("database", probe)


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

    return timed_check("broker", probe)


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

    return timed_check("redis", probe)


# Apps add checks of their own at start-up (AppConfig.ready): ``common`` imports no app.
# Each entry is (names it reports, probe group returning one CheckResult per name).
_registered: list[tuple[tuple[str, ...], Callable[[], list[CheckResult]]]] = []


def register(names: tuple[str, ...], group: Callable[[], list[CheckResult]]) -> None:
    if all(existing != names for existing, _ in _registered):
        _registered.append((names, group))


# Checks that read only the local disk run in the request's own thread, after the bounded
# ones; each returns None when it has nothing to say yet.
_registered_local: list[Callable[[], CheckResult | None]] = []


def register_local(check: Callable[[], CheckResult | None]) -> None:
    if check not in _registered_local:
        _registered_local.append(check)


_in_flight: dict[tuple[str, ...], float] = {}
_in_flight_lock = threading.Lock()


def _run_group(names: tuple[str, ...], group, results: dict) -> None:
    started = time.monotonic()
    try:
        for result in group():
            results[result.name] = result
    except Exception as exc:  # a failing dependency is a "not ready", never a 500
        millis = round((time.monotonic() - started) * 1000, 1)
        for name in names:
            results[name] = CheckResult(name, False, f"{type(exc).__name__}: {exc}"[:300], millis)
    finally:
        # This thread's own database connection, if the group opened one.
        connections.close_all()
        with _in_flight_lock:
            _in_flight.pop(names, None)


def run_bounded(groups: list, *, timeout: float) -> list[CheckResult]:
    """Run every ``(names, group)`` in its own thread; wait ``timeout`` seconds in all.

    A group that has not answered by then reports each of its names as failed."""
    results: dict[str, CheckResult] = {}
    threads = []
    now = time.monotonic()
    for names, group in groups:
        with _in_flight_lock:
            stuck_since = _in_flight.get(names)
            if stuck_since is None:
                _in_flight[names] = now
        if stuck_since is not None:
            for name in names:
                results[name] = CheckResult(
                    name,
                    False,
                    f"no answer: the previous check has been waiting {now - stuck_since:.0f} s",
                    0.0,
                )
            continue
        thread = threading.Thread(
            target=_run_group, args=(names, group, results), name=f"readyz-{names[0]}", daemon=True
        )
        thread.start()
        threads.append((names, thread))
    deadline = now + timeout
    for names, thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            for name in names:
                results.setdefault(
                    name,
                    CheckResult(name, False, f"no answer within {timeout:g} s", timeout * 1000),
                )
    ordered = [name for names, _ in groups for name in names]
    return [results[name] for name in ordered if name in results]


def _single(check) -> Callable[[], list[CheckResult]]:
    def group() -> list[CheckResult]:
        result = check()
        return [] if result is None else [result]

    return group


def readiness() -> list[CheckResult]:
    groups = [
        (("database",), _single(check_database)),
        (("broker",), _single(check_broker)),
    ]
    if settings.REDIS_URL:
        groups.append((("redis",), _single(check_redis)))
    groups += _registered
    results = run_bounded(groups, timeout=float(settings.KEEL_READINESS_TIMEOUT_SECONDS))
    for check in _registered_local:
        result = check()
        if result is not None:
            results.append(result)
    return results
