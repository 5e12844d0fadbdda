"""``benchmarks/subscriber_fanout.py`` at a small size, so the script stays alive: real
workers and beat, the aiosmtpd sink and the webhook receiver, the reference tasks,
every subscriber reached once (the full-size figures are in docs/benchmarks.md)."""

import json
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from tests.integration.conftest import ROOT

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_small_fan_out_reaches_every_subscriber_once(integration_services, tmp_path):
    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    results = tmp_path / "results.json"
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "subscriber_fanout.py"),
            *("--emails", "20", "--webhooks", "5", "--concurrency", "2", "--timeout", "120"),
            *("--database-url", database_url, "--redis-url", settings.REDIS_URL),
            *("--json", str(results)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = json.loads(results.read_text())["summary"]
    assert summary["keel_complete"] and summary["ref_complete"]
    assert summary["keel_lost"] == summary["keel_duplicates"] == 0
    assert summary["ref_lost"] == summary["ref_duplicates"] == 0
    assert summary["keel_per_second"] > 0 and summary["ratio"] > 0
    # Latency from commit to each subscriber's acknowledgement, every message counted.
    assert 0 < summary["keel_p50"] <= summary["keel_p99"] <= summary["keel_seconds"]
    assert "| Keel (update_post → status page → subscribers) |" in run.stdout
