"""/metrics behind two real gunicorn worker processes (config/gunicorn.py, the
production configuration): requests land on both workers, and one scrape, answered
by either of them, sums what both counted. A worker that exits keeps its counts;
a counts file left by an earlier run is removed when the server starts."""

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from incidents import services as incident_services
from tests.factories.incidents import severity
from tests.integration.conftest import wait_for
from tests.metrics_text import parse, value

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
ALERTMANAGER = "/api/v1/integrations/alertmanager/"
POSTS = {"view": "api-integrations-alertmanager", "method": "POST", "status": "401"}


def per_worker_counts(metrics_dir: Path) -> dict[int, float]:
    """pid → POSTs to the Alertmanager webhook that worker counted (its own file).
    Only this test sends those (LiveWeb.start polls /healthz, and a poll that timed
    out while the server booted is still answered, and counted, later)."""
    counts = {}
    for path in metrics_dir.glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        for family in MultiProcessCollector.merge([str(path)], accumulate=True):
            for sample in family.samples:
                if sample.name == "keel_http_requests_total" and sample.labels == POSTS:
                    counts[pid] = counts.get(pid, 0) + sample.value
    return counts


def worker_pids(master_pid: int) -> set[int]:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text()
    return {int(pid) for pid in children.split()}


def scrape(web) -> dict:
    status, _, body = web.get("/metrics")
    assert status == 200, body[:500]
    return parse(body.decode())


def test_two_workers_count_their_own_requests_and_one_scrape_sums_them(
    start_web, tmp_path, responder
):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"left by an earlier run")
    web = start_web(workers=2, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    assert not (metrics_dir / "counter_1.db").exists()
    wait_for(lambda: len(worker_pids(web.process.pid)) == 2, timeout=30, what="two workers")

    sent = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(25):  # until both workers have answered some
            statuses = list(
                pool.map(lambda _: web.request("POST", ALERTMANAGER, body={})[0], range(16))
            )
            assert statuses == [401] * 16  # no token
            sent += 16
            if len(per_worker_counts(metrics_dir)) == 2:
                break
    by_worker = per_worker_counts(metrics_dir)
    assert len(by_worker) == 2 and all(n > 0 for n in by_worker.values()), by_worker
    assert sum(by_worker.values()) == sent

    incident_services.incident_declare(
        title="Seen by every worker", severity=severity("SEV2"), actor=responder
    )
    for _ in range(4):  # whichever worker answers, the same sums
        samples = scrape(web)
        assert value(samples, "keel_http_requests_total", **POSTS) == sent
        forbidden = {"integration": "alertmanager", "outcome": "forbidden"}
        assert value(samples, "keel_alert_notifications_total", **forbidden) == sent
        latency = "keel_http_request_duration_seconds_count"
        assert value(samples, latency, view="api-integrations-alertmanager") == sent
        assert value(samples, "keel_incidents_declared_total", severity="SEV2", source="web") == 1

    # A worker that exits (gunicorn starts another) keeps its counts in the sum.
    gone = next(iter(worker_pids(web.process.pid)))
    os.kill(gone, signal.SIGTERM)

    def replaced() -> bool:
        pids = worker_pids(web.process.pid)
        return gone not in pids and len(pids) == 2

    wait_for(replaced, timeout=30, what="a replacement worker")
    assert value(scrape(web), "keel_http_requests_total", **POSTS) == sent
