"""deploy/prometheus/alerts.yml and deploy/grafana/keel.json, checked with the real
promtool (Debian package ``prometheus``; .ci/run installs it): the rules load,
their unit tests pass with a firing and a quiet case for each alert, every alert
is actionable, and every metric they or the dashboard name is one /metrics
really exposes (and docs/operations.md documents). The real /metrics output
passes ``promtool check metrics``."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import require_service
from tests.metrics_text import parse

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "keel.json"
OPERATIONS = ROOT / "docs" / "operations.md"
ANNOTATIONS = {"summary", "description", "where", "fix", "runbook_url"}
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


@pytest.fixture
def promtool() -> str:
    path = shutil.which("promtool")
    require_service("promtool (Debian package prometheus)", path is not None)
    return path


def run(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, input=stdin, capture_output=True, text=True, timeout=60, cwd=ROOT, check=False
    )


def alert_rules() -> list[dict]:
    return [
        rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    ]


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def keel_metric_names(expr: str) -> set[str]:
    names = set()
    for name in re.findall(r"\bkeel_[a-z_]+", expr):
        for suffix in HISTOGRAM_SUFFIXES:
            name = name.removesuffix(suffix)
        names.add(name)
    return names


def test_the_alert_rules_load(promtool):
    result = run(promtool, "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_the_alert_rules_unit_tests_pass(promtool):
    result = run(promtool, "test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_firing_case_and_a_quiet_case():
    cases: dict[str, set[bool]] = {}
    for group in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for case in group["alert_rule_test"]:
            cases.setdefault(case["alertname"], set()).add(bool(case["exp_alerts"]))
    for rule in alert_rules():
        assert cases.get(rule["alert"]) == {True, False}, rule["alert"]


def test_the_required_alerts_are_there():
    names = {rule["alert"] for rule in alert_rules()}
    assert names >= {
        "KeelUpdatesNotDelivered",
        "KeelCircuitBreakerOpen",
        "KeelChannelPaused",
        "KeelWorkerHeartbeatMissing",
        "KeelStatusPageSnapshotStale",
        "KeelAlertIntakeRefusing",
        "KeelNotReady",
        "KeelScrapeDown",
    }


def test_every_alert_says_what_broke_where_to_look_and_how_to_fix_it():
    headings = set(re.findall(r"^### (\w+)$", OPERATIONS.read_text(), flags=re.MULTILINE))
    for rule in alert_rules():
        annotations = rule["annotations"]
        assert set(annotations) >= ANNOTATIONS, rule["alert"]
        assert (
            "http://{{ $labels.instance }}/" in annotations["where"]
            or "log" in (annotations["where"])
        ), rule["alert"]
        assert annotations["runbook_url"] == f"docs/operations.md#{rule['alert'].lower()}"
        assert rule["alert"] in headings, f"docs/operations.md has no runbook for {rule['alert']}"
        assert rule["labels"]["severity"] in ("page", "ticket")


def test_the_dashboard_is_valid_json_with_unique_panels():
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert dashboard["uid"] == "keel-overview"
    assert len(dashboard_exprs()) >= 15


def test_every_dashboard_query_parses(promtool, tmp_path):
    """promtool parses PromQL when it checks rules: each panel's query as a recording rule."""
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"keel_dashboard:panel_{n}", "expr": expr}
                    for n, expr in enumerate(dashboard_exprs())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = run(promtool, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_rules_and_dashboard_name_only_metrics_keel_exposes_and_documents(client, settings):
    settings.KEEL_OPS_ALLOW_CIDRS = ["127.0.0.1/32"]
    client.get("/healthz")  # a request, so the HTTP families have a sample
    # Every family, with samples or not (a clean breaker has no series): its TYPE line.
    text = client.get("/metrics").content.decode()
    exposed = set(re.findall(r"^# TYPE (keel_[a-z_]+) ", text, re.MULTILINE))
    documented = set(re.findall(r"^\| `(keel_[a-z_]+)`", OPERATIONS.read_text(), re.MULTILINE))
    named = set()
    for expr in [rule["expr"] for rule in alert_rules()] + dashboard_exprs():
        named |= keel_metric_names(str(expr))
    assert named, "no keel_ metric named"
    assert named <= exposed, named - exposed
    assert exposed <= documented, exposed - documented
    assert parse(text)  # and it parses


@pytest.mark.django_db
def test_the_real_metrics_output_passes_promtool_lint(client, settings, promtool, responder):
    from incidents import services
    from tests.factories.incidents import severity

    settings.KEEL_OPS_ALLOW_CIDRS = ["127.0.0.1/32"]
    services.incident_declare(title="Lint me", severity=severity("SEV2"), actor=responder)
    client.get("/healthz")
    text = client.get("/metrics").content.decode()
    result = run(promtool, "check", "metrics", stdin=text)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr
