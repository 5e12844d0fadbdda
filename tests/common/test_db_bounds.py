"""The database bounds: client-side options for web and workers, and the role switch."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.celery import _runs_celery_worker_or_beat

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("argv", "worker"),
    [
        (["/venv/bin/celery", "-A", "config", "worker", "--beat"], True),
        (["/venv/lib/python3.11/site-packages/celery/__main__.py", "-A", "config", "beat"], True),
        (["/venv/bin/celery", "-A", "config", "inspect", "ping"], False),
        (["/venv/bin/gunicorn", "config.wsgi"], False),
        (["/venv/bin/pytest", "tests/integration/test_worker.py"], False),
    ],
)
def test_only_a_celery_worker_or_beat_is_a_worker(argv, worker):
    assert _runs_celery_worker_or_beat(argv) is worker


def _options(role: str | None) -> dict:
    """The database OPTIONS the base settings build in a fresh process of that role."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DB_") and key != "KEEL_PROCESS_ROLE"
    }
    env.update(
        DATABASE_URL="postgres://u@127.0.0.1:5432/x", SECRET_KEY="x", KEEL_DATA_DIR="/tmp/keel-x"
    )
    if role:
        env["KEEL_PROCESS_ROLE"] = role
    code = (
        "import json; from config.settings import base as s; "
        "print(json.dumps({**s.DATABASES['default']['OPTIONS'], "
        "'deadline': s.DB_CLIENT_DEADLINE_SECONDS, 'retry': s.CELERY_TASK_PUBLISH_RETRY, "
        "'broker_timeout': s.REDIS_BROKER_TRANSPORT_OPTIONS['socket_timeout']}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, check=True
    )
    return json.loads(out.stdout)


def test_the_web_gets_much_shorter_bounds_than_a_worker():
    web, worker = _options(None), _options("worker")
    for options in (web, worker):
        assert options["keepalives"] == 1
        assert options["keepalives_idle"] == 10
        assert "idle_in_transaction_session_timeout=" in options["options"]
    assert web["tcp_user_timeout"] == 5000 and worker["tcp_user_timeout"] == 20000
    assert "statement_timeout=10000 " in web["options"]
    assert "statement_timeout=30000 " in worker["options"]
    assert web["connect_timeout"] < worker["connect_timeout"]
    assert web["deadline"] == 12 and worker["deadline"] == 35
    # The web publishes once, bounded well under a second; workers retry a little.
    assert web["retry"] is False and worker["retry"] is True
    assert web["broker_timeout"] == 0.3 and worker["broker_timeout"] == 5.0
