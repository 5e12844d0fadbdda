import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("keel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _connect_log_context() -> None:
    """The request id travels with the tasks a request enqueues; each task logs its ids."""
    from common import logs

    signals.before_task_publish.connect(logs.task_publish_carries_request_id, weak=False)
    signals.task_prerun.connect(logs.task_binds_context, weak=False)
    signals.task_postrun.connect(logs.task_clears_context, weak=False)


_connect_log_context()
