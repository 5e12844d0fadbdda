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
"""

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


def child_exit(server, worker) -> None:
    multiprocess.mark_process_dead(worker.pid, str(METRICS_DIR))


def on_exit(server) -> None:
    if _created_here:
        shutil.rmtree(METRICS_DIR, ignore_errors=True)
