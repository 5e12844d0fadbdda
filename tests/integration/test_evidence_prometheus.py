"""Action item evidence against a REAL Prometheus (Debian's ``prometheus``): ten days of
known series are backfilled with ``promtool tsdb create-blocks-from openmetrics``, the
server answers ``/api/v1/query_range`` over them, and Keel's check (in this process,
then through the beat task in a real worker) records verified, breached, not yet and
unavailable as the data says."""

import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from postmortems import evidence, services, tasks
from postmortems.models import ActionItemEvidence
from tests.conftest import require_service
from tests.factories.incidents import UserFactory
from tests.factories.postmortems import started_postmortem
from tests.integration.conftest import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
Result = ActionItemEvidence.Result
PORTS = range(19650, 19699)  # this helper's range; see BRIEF-COMMON
STEP = 300


def _port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail("no free port in 19650-19698")


def _openmetrics(now: int) -> str:
    """checkout: 0.25 s for ten days; search: 0.3 s with a 2 s spike two days ago;
    fresh: 0.1 s for the last two days only."""
    lines = ["# TYPE p99_seconds gauge"]
    spike = now - 2 * 86_400
    for at in range(now - 10 * 86_400, now - 60, STEP):
        lines.append(f'p99_seconds{{service="checkout"}} 0.25 {at}')
        value = 2.0 if abs(at - spike) < 1_800 else 0.3
        lines.append(f'p99_seconds{{service="search"}} {value} {at}')
        if at >= now - 2 * 86_400:
            lines.append(f'p99_seconds{{service="fresh"}} 0.1 {at}')
    return "\n".join([*lines, "# EOF", ""])


@pytest.fixture
def prometheus(tmp_path):
    binary, promtool = shutil.which("prometheus"), shutil.which("promtool")
    require_service(
        "prometheus and promtool (Debian package prometheus)", bool(binary and promtool)
    )
    source = tmp_path / "series.om"
    source.write_text(_openmetrics(int(time.time())))
    data = tmp_path / "tsdb"
    subprocess.run(
        [
            promtool,
            *("tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=256h"),
            *(str(source), str(data)),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    config = tmp_path / "prometheus.yml"
    config.write_text("global: {}\n")
    port = _port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=30d",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=(tmp_path / "prometheus.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_for(ready, timeout=60, what="Prometheus ready")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def links(db):
    rita = UserFactory(username="rita", role="responder")
    pm = started_postmortem(actor=rita)

    def link(title: str, query: str) -> ActionItemEvidence:
        item = services.action_item_create(
            postmortem=pm, actor=rita, data={"title": title, "kind": "detect"}
        )
        return evidence.evidence_link(
            item=item, actor=rita, metric="p99 (s)", query=query, threshold=1.0, days=7
        )

    return link


def test_a_real_prometheus_answers_and_each_link_gets_its_verdict(prometheus, links, settings):
    settings.KEEL_METRICS_QUERY_URL = prometheus
    checkout = links("Breaker on checkout", 'p99_seconds{service="checkout"}')
    search = links("Cache for search", 'p99_seconds{service="search"}')
    fresh = links("New index", 'p99_seconds{service="fresh"}')
    assert checkout.result == Result.UNCHECKED  # a query is checked by a worker, later

    assert evidence.evidence_check(evidence_id=checkout.pk) == Result.VERIFIED
    assert evidence.evidence_check(evidence_id=search.pk) == Result.BREACHED
    assert evidence.evidence_check(evidence_id=fresh.pk) == Result.NOT_YET
    checkout.refresh_from_db()
    search.refresh_from_db()
    assert checkout.verified_at is not None and "Stayed below 1 for 7 d" in checkout.result_detail
    assert "wrong side of 1" in search.result_detail and search.verified_at is None

    settings.KEEL_METRICS_QUERY_URL = f"http://127.0.0.1:{_port()}"  # nobody listens
    assert evidence.evidence_check(evidence_id=checkout.pk) == Result.UNAVAILABLE
    checkout.refresh_from_db()
    assert checkout.verified_at is None
    assert checkout.result_detail.startswith("The metrics source did not answer")


def test_the_beat_task_rechecks_through_a_real_worker(prometheus, links, start_worker, settings):
    settings.KEEL_METRICS_QUERY_URL = prometheus
    checkout = links("Breaker on checkout", 'p99_seconds{service="checkout"}')
    search = links("Cache for search", 'p99_seconds{service="search"}')
    start_worker(env={"KEEL_METRICS_QUERY_URL": prometheus})
    assert tasks.action_items_check_evidence_task() == 2  # one task per link, published

    def checked():
        rows = {e.pk: e.result for e in ActionItemEvidence.objects.all()}
        return rows.get(checkout.pk) != Result.UNCHECKED and rows.get(search.pk) != Result.UNCHECKED

    wait_for(checked, timeout=60, what="both links checked by the worker")
    checkout.refresh_from_db()
    search.refresh_from_db()
    assert (checkout.result, search.result) == (Result.VERIFIED, Result.BREACHED)
