import os
import sys

from celery import Celery, signals


def _runs_celery_worker_or_beat(argv: list[str]) -> bool:
    """``celery -A config worker|beat`` (or ``python -m celery …``): the process
    that imports this module before Django's settings load."""
    program = argv[0] if argv else ""
    is_celery = os.path.basename(program) == "celery" or program.endswith("celery/__main__.py")
    return is_celery and any(arg in {"worker", "beat"} for arg in argv[1:])


# The settings give workers longer database and broker bounds than the web
# (config/settings/base.py KEEL_PROCESS_ROLE); an explicit environment wins.
if _runs_celery_worker_or_beat(sys.argv):
    os.environ.setdefault("KEEL_PROCESS_ROLE", "worker")

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("keel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _connect_log_context() -> None:
    """The request id travels with the tasks a request enqueues; each task logs its ids."""
    from common import logs  # after Django's settings: this module is loaded before them

    signals.before_task_publish.connect(logs.task_publish_carries_request_id, weak=False)
    signals.task_prerun.connect(logs.task_binds_context, weak=False)
    signals.task_postrun.connect(logs.task_clears_context, weak=False)


_connect_log_context()


def _close_old_database_connections(task=None, **kwargs) -> None:
    """Around every task, what Django does around every request: drop a database
    connection that is broken or older than CONN_MAX_AGE, keep a healthy one. Not for
    a task run eagerly: it runs inside its caller (a request, a test, a command), whose
    connection — and open transaction — is not the task's to close."""
    from django.db import close_old_connections

    if task is not None and task.request.is_eager:
        return
    close_old_connections()


# Celery's own fixup closes connections only every CELERY_DB_REUSE_MAX tasks (settings).
signals.task_prerun.connect(_close_old_database_connections, weak=False)
signals.task_postrun.connect(_close_old_database_connections, weak=False)
