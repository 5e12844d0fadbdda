"""gunicorn settings for every Keel web server: ``gunicorn config.wsgi --config
config/gunicorn.py`` (docker-compose.yml, the Dockerfile, ``manage.py serve``).

What it owns: prometheus-client's multiprocess mode, so that /metrics sums the
HTTP and alert-intake counters of every worker process (``common.metrics``).

- ``PROMETHEUS_MULTIPROC_DIR`` names the directory the workers write their
  values to. Unset, a fresh private directory is made for this server (two
  servers on one host never mix their counts) and removed when it stops.
- The master empties it when it starts (counts of an earlier run would add up
  with this one's) and before any worker is forked.
- When a worker exits its live gauges are dropped (``mark_process_dead``); its
  counters stay, as Prometheus expects of counters.

The variable is set here, in the master, before ``prometheus_client`` is first
imported: the library picks its storage when it is imported.

And the cyclic garbage collector, out of the requests' way (``post_worker_init``):
once a worker has loaded Django, its URL configuration (every view module) and its
templates' engine, ``gc.freeze()`` moves those long-lived objects out of the
collector's sight, so a full collection during a request no longer walks them
(measured in real workers by ``benchmarks/gc_pauses.py``: the postmortem editor's full
collections took half as long). Raised thresholds took those collections out of the
editor's requests but doubled the workers' peak memory (docs/benchmarks.md, "Garbage
collection"), so the thresholds stay Python's unless ``KEEL_GC_THRESHOLD``
("50000,20,10") says otherwise. ``KEEL_GC_FREEZE=0`` leaves the collector unfrozen.
"""

import gc
import os
import shutil
import tempfile
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_created_here = not os.environ.get(MULTIPROC_ENV)
if _created_here:
    os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="keel-metrics-")
METRICS_DIR = Path(os.environ[MULTIPROC_ENV])

from prometheus_client import multiprocess  # noqa: E402  (after the variable is set)

# gunicorn 27's control socket (for ``gunicornc``) is not used. It lives under $HOME,
# which in the image is /app, owned by root: every start logged "Control server error".
control_socket_disable = True


def on_starting(server) -> None:
    METRICS_DIR.mkdir(parents=True, exist_ok=True)
    for stale in METRICS_DIR.glob("*.db"):
        stale.unlink(missing_ok=True)
    server.log.info("prometheus multiprocess directory: %s", METRICS_DIR)


def _gc_threshold() -> tuple[int, ...] | None:
    raw = os.environ.get("KEEL_GC_THRESHOLD", "").strip()
    if not raw:
        return None
    try:
        values = tuple(int(part) for part in raw.split(","))
    except ValueError as exc:
        raise ValueError(f"KEEL_GC_THRESHOLD must be up to three integers, not {raw!r}") from exc
    if not 1 <= len(values) <= 3 or any(value < 0 for value in values):
        raise ValueError(f"KEEL_GC_THRESHOLD must be up to three integers >= 0, not {raw!r}")
    return values


# Read once, when the server loads this file: a bad value stops it before any worker starts.
WORKER_GC_THRESHOLD = _gc_threshold()


def post_worker_init(worker) -> None:
    if os.environ.get("KEEL_GC_FREEZE", "1") != "0":
        # Import what the first request would (every view through the URL resolver,
        # the template engines), then freeze all of it: it lives as long as the worker.
        from django.template import engines
        from django.urls import get_resolver

        get_resolver().url_patterns  # noqa: B018  (imports every view module)
        engines.all()
        gc.collect()
        gc.freeze()
        worker.log.info("gc: froze %d objects after start-up", gc.get_freeze_count())
    if WORKER_GC_THRESHOLD:
        gc.set_threshold(*WORKER_GC_THRESHOLD)
    worker.log.info("gc: thresholds %s", gc.get_threshold())


def child_exit(server, worker) -> None:
    multiprocess.mark_process_dead(worker.pid, str(METRICS_DIR))


def on_exit(server) -> None:
    if _created_here:
        shutil.rmtree(METRICS_DIR, ignore_errors=True)
