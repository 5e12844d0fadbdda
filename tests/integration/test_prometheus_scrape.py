"""A real Prometheus (Debian's ``prometheus``) scrapes a live Keel (two gunicorn
workers, config/gunicorn.py) with the bearer token, as docs/operations.md says to,
loads deploy/prometheus/alerts.yml, and its query API then answers with Keel's
series; with no worker running, the heartbeat alert is on its way (pending)."""

import json
import shutil
import subprocess
import urllib.parse
import urllib.request

import pytest
import yaml

from incidents import services as incident_services
from tests.conftest import require_service
from tests.factories.incidents import severity
from tests.integration.conftest import ROOT, free_port, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
TOKEN = "prometheus-scrape-token-0123456789abcdef"


@pytest.fixture
def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    require_service("prometheus (Debian package prometheus)", path is not None)
    return path


class Prometheus:
    def __init__(self, binary: str, target: str, tmp_path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(ROOT / "deploy" / "prometheus" / "alerts.yml")],
            "scrape_configs": [
                {
                    "job_name": "keel",
                    "authorization": {"type": "Bearer", "credentials": TOKEN},
                    "static_configs": [{"targets": [target]}],
                }
            ],
        }
        config_path = tmp_path / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config))
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=(tmp_path / "prometheus.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def api(self, path: str, **params) -> dict:
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.load(response)
        except OSError:
            return {}

    def value(self, query: str) -> float | None:
        result = self.api("query", query=query).get("data", {}).get("result", [])
        return float(result[0]["value"][1]) if result else None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def test_a_real_prometheus_scrapes_keel_and_loads_the_alert_rules(
    start_web, tmp_path, responder, prometheus_binary
):
    incident_services.incident_declare(
        title="Seen by Prometheus", severity=severity("SEV2"), actor=responder
    )
    web = start_web(
        workers=2,
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "multiproc"),
        KEEL_METRICS_TOKEN=TOKEN,
        KEEL_OPS_ALLOW_CIDRS="",  # the token, not the network, grants the scrape
    )
    # The multiprocess exposition (what a worker answers under gunicorn) passes the lint.
    status, _, body = web.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    lint = subprocess.run(
        [shutil.which("promtool") or "promtool", "check", "metrics"],
        input=body,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout + lint.stderr

    prometheus = Prometheus(prometheus_binary, f"127.0.0.1:{web.port}", tmp_path)
    try:
        wait_for(lambda: prometheus.value('up{job="keel"}') == 1, timeout=60, what="a good scrape")
        query = 'keel_open_incidents{severity="SEV2",stage="detect"}'
        wait_for(lambda: prometheus.value(query) == 1, timeout=30, what=query)
        assert prometheus.value('keel_open_incidents{severity="SEV1",stage="judge"}') == 0
        wait_for(
            lambda: (prometheus.value('sum(keel_http_requests_total{view="metrics"})') or 0) >= 2,
            timeout=30,
            what="its own scrapes counted",
        )

        groups = prometheus.api("rules")["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        assert len(rules) == 8 and all(rule["health"] == "ok" for rule in rules), rules

        def heartbeat_alert_pending() -> bool:
            alerts = prometheus.api("alerts").get("data", {}).get("alerts", [])
            return any(
                a["labels"]["alertname"] == "KeelWorkerHeartbeatMissing" and a["state"] == "pending"
                for a in alerts
            )

        # No worker runs in this test: the heartbeat is -1, the alert is pending (for: 2m).
        wait_for(heartbeat_alert_pending, timeout=30, what="the heartbeat alert pending")
    finally:
        prometheus.stop()
