"""The collector's settings in a real gunicorn worker (config/gunicorn.py): frozen after
start-up with Python's thresholds by default, others when asked, and a bad
``KEEL_GC_THRESHOLD`` stops the server before it starts any worker."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
ROOT = Path(__file__).resolve().parents[2]
CHECK_CONFIG = ["--config", "config/gunicorn.py", "--check-config"]


def test_a_worker_freezes_its_start_up_objects(start_web):
    web = start_web()
    wait_for(lambda: "gc: thresholds" in web.log(), timeout=30, what="the worker's gc line")
    log = web.log()
    assert "gc: froze " in log
    assert "gc: thresholds (700, 10, 10)" in log
    assert web.get("/healthz")[0] == 200


def test_an_unfrozen_collector_with_other_thresholds_when_asked(start_web):
    web = start_web(KEEL_GC_FREEZE="0", KEEL_GC_THRESHOLD="50000,20,10")
    wait_for(lambda: "gc: thresholds" in web.log(), timeout=30, what="the worker's gc line")
    log = web.log()
    assert "gc: froze " not in log
    assert "gc: thresholds (50000, 20, 10)" in log


def test_a_bad_threshold_stops_the_server_before_it_starts(tmp_path):
    env = {**os.environ, "KEEL_GC_THRESHOLD": "lots", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    checked = subprocess.run(
        [sys.executable, "-m", "gunicorn", "config.wsgi", *CHECK_CONFIG],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode != 0
    assert "KEEL_GC_THRESHOLD must be up to three integers, not 'lots'" in (
        checked.stdout + checked.stderr
    )
