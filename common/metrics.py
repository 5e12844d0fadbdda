"""Keel's Prometheus metrics: two kinds, one exposition (``/metrics``).

**Events a process counts** (HTTP requests and their latency, alert
notifications received): prometheus-client counters and histograms. Under
gunicorn they are counted in each worker process and summed at scrape time by
prometheus-client's multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` names a
directory every worker writes its values to (``config/gunicorn.py`` sets it,
empties it when the master starts and marks a worker dead when it exits). The
environment variable must be set before ``prometheus_client`` is first
imported; without it (tests, ``runserver``) the values live in this process.

**State read from the database at scrape time** (incidents by stage, deliveries
by channel and outcome, breakers, pauses, backlogs, ages, incidents declared,
updates created): each app registers a *collector* at start-up
(``register_collector`` in ``AppConfig.ready``; ``common`` imports no app). A
collector makes a fixed number of queries whatever the data, so a scrape stays
cheap; whatever a Celery worker did is in the database, so it is counted
whichever process did it and survives restarts. Counters derived from the
database (``*_total``) only go down if rows are deleted, which Prometheus reads
as a counter reset.

Metric names and meanings: docs/operations.md.
"""

import os
from collections.abc import Callable, Iterable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from common import health

# ``*_created`` series (a timestamp per counter) are left out: multiprocess mode has
# none, and the same metric must read the same in both modes.
disable_created_metrics()

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Process-counted metrics register here (never the global default registry: in
# multiprocess mode the scrape reads the files instead, and tests must not see
# prometheus-client's own process collectors twice).
PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


if multiprocess_dir():
    # Any process that imports the apps (a Celery worker, a management command given
    # the same environment) writes its files there too: the directory must exist.
    os.makedirs(multiprocess_dir(), exist_ok=True)


def counter(name: str, documentation: str, labelnames: Iterable[str]) -> Counter:
    return Counter(name, documentation, labelnames=tuple(labelnames), registry=PROCESS_REGISTRY)


def process_gauge(name: str, documentation: str) -> Gauge:
    """A gauge a process sets (e.g. its open streams); summed over the live workers."""
    return Gauge(name, documentation, registry=PROCESS_REGISTRY, multiprocess_mode="livesum")


def histogram(
    name: str, documentation: str, labelnames: Iterable[str], buckets: tuple[float, ...]
) -> Histogram:
    return Histogram(
        name,
        documentation,
        labelnames=tuple(labelnames),
        buckets=buckets,
        registry=PROCESS_REGISTRY,
    )


def gauge(name: str, documentation: str, samples, labels: tuple[str, ...] = ()) -> Metric:
    """A gauge family from ``[(label values dict, value), ...]``."""
    family = GaugeMetricFamily(name, documentation, labels=list(labels))
    for label_values, value in samples:
        family.add_metric([str(label_values[label]) for label in labels], float(value))
    return family


def counter_family(name: str, documentation: str, samples, labels: tuple[str, ...]) -> Metric:
    """A counter family (``name`` without ``_total``: prometheus-client adds it)."""
    family = CounterMetricFamily(name, documentation, labels=list(labels))
    for label_values, value in samples:
        family.add_metric([str(label_values[label]) for label in labels], float(value))
    return family


def histogram_family(
    name: str, documentation: str, label: str, series: dict[str, tuple[list, float]]
) -> Metric:
    """``series``: label value → (``[(le, cumulative count), ...]`` ending with
    ``("+Inf", count)``, sum)."""
    family = HistogramMetricFamily(name, documentation, labels=[label])
    for value, (buckets, total) in series.items():
        family.add_metric([value], [(str(le), count) for le, count in buckets], total)
    return family


# name → collector (a function returning metric families). Registered at start-up.
_collectors: dict[str, Callable[[], list[Metric]]] = {}


def register_collector(name: str, collect: Callable[[], list[Metric]]) -> None:
    _collectors[name] = collect


class _Families:
    """What ``generate_latest`` needs of a registry: ``collect()``."""

    def __init__(self, families: list[Metric]):
        self.families = families

    def collect(self):
        return iter(self.families)


def collect_state() -> list[Metric]:
    """Every registered collector's families, in registration order. Raises what the
    database raises (the view answers 503)."""
    families: list[Metric] = []
    for collect in _collectors.values():
        families.extend(collect())
    return families


def process_exposition() -> bytes:
    """The process-counted metrics: summed over every worker in multiprocess mode."""
    directory = multiprocess_dir()
    if directory is None:
        return generate_latest(PROCESS_REGISTRY)
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return generate_latest(registry)


def database_family() -> Metric:
    from django.db import connection

    return gauge(
        "keel_database_vendor_info",
        "The database backend in use (always 1).",
        [({"vendor": connection.vendor}, 1)],
        ("vendor",),
    )


def readiness_family() -> Metric:
    """``keel_ready{check}``: /readyz's checks, run now (bounded by
    ``KEEL_READINESS_TIMEOUT_SECONDS``), 1 passing, 0 failing."""
    return gauge(
        "keel_ready",
        "1 while a readiness check passes, 0 while it fails (the same checks as /readyz: "
        "database, broker, redis, worker_heartbeat, deliveries, statuspage_snapshot).",
        [({"check": result.name}, int(result.ok)) for result in health.readiness()],
        ("check",),
    )


def exposition() -> bytes:
    """The whole /metrics body: readiness, database-derived state, process counts."""
    state = generate_latest(_Families([readiness_family(), *collect_state(), database_family()]))
    return state + process_exposition()
