"""Grafana Alerting and generic webhook payloads; matchers; the bounded body reader."""

import io
import json

import pytest

from common.exceptions import InvalidInput
from common.jsonguard import JSONInputError
from incidents.intake import body as intake_body
from incidents.intake import normalize, sources
from incidents.intake.rules import Rules, matches, parse_matchers
from incidents.models import AlertSource, Incident
from tests.factories.incidents import ServiceFactory
from tests.incidents.alert_payloads import am_alert, grafana_alert, grafana_notification
from tests.incidents.test_alert_intake import client_for, post

GRAFANA = "/api/v1/integrations/grafana/"
WEBHOOK = "/api/v1/integrations/webhook/"


@pytest.fixture
def make_source(db, admin_user):
    ServiceFactory(slug="checkout-api")

    def make(kind: str):
        _source, key = sources.alert_source_create(kind=kind, name="main", actor=admin_user)
        return client_for(key)

    return make


@pytest.mark.django_db
def test_grafana_without_grouping_makes_one_incident_per_rule_titled_by_the_rule(make_source):
    client = make_source("grafana")
    body = grafana_notification(
        grafana_alert("CheckoutLatency", "f1", service="checkout-api"),
        grafana_alert("CheckoutLatency", "f2", service="checkout-api"),
        grafana_alert("DiskFull", "f3", severity="warning", service="storage"),
    )
    response = post(client, body, GRAFANA)
    assert response.status_code == 200, response.content
    assert [g["action"] for g in response.json()["groups"]] == ["declared", "declared"]
    titles = dict(Incident.objects.values_list("title", "severity__code"))
    assert titles == {
        "CheckoutLatency is failing": "SEV2",
        "DiskFull is failing": "SEV3",
    }


@pytest.mark.django_db
def test_grafana_with_grouping_uses_its_group_and_title(make_source):
    client = make_source("grafana")
    body = grafana_notification(
        grafana_alert("CheckoutLatency", "f1"), group_labels={"grafana_folder": "Checkout"}
    )
    body["commonAnnotations"] = {}
    body["title"] = "[FIRING:1] Checkout latency high"
    post(client, body, GRAFANA)
    assert Incident.objects.get().title == "CheckoutLatency: Checkout latency high"


@pytest.mark.django_db
def test_the_generic_webhook_declares_repeats_and_resolves(make_source):
    client = make_source("webhook")
    event = {
        "key": "checkout-5xx",
        "title": "Checkout 5xx above 5%",
        "severity": "critical",
        "service": "checkout-api",
        "started_at": "2026-11-23T01:00:00Z",
        "url": "https://grafana.example.com/d/x",
    }
    assert post(client, event, WEBHOOK).json()["action"] == "declared"
    assert post(client, event, WEBHOOK).json()["action"] == "unchanged"
    AlertSource.objects.filter(kind="webhook").update(resolve_hold_seconds=0)
    assert post(client, {**event, "status": "resolved"}, WEBHOOK).json()["action"] == "recovered"
    incident = Incident.objects.get()
    assert incident.title == "Checkout 5xx above 5%" and incident.severity.code == "SEV2"
    assert incident.started_at.isoformat().startswith("2026-11-23T01:00")
    assert [s.slug for s in incident.services.all()] == ["checkout-api"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"title": "no key"}, "key"),
        ({"key": "k", "status": "on"}, "status"),
        ({"key": "k", "labels": []}, "labels"),
        ({"key": "k" * 1001}, "key"),
    ],
)
def test_the_generic_webhook_names_the_field_at_fault(make_source, event, field):
    response = post(make_source("webhook"), event, WEBHOOK)
    assert response.status_code == 400 and field in response.json()["errors"]
    assert not Incident.objects.exists()


def test_matchers_equal_regex_negations_and_all_of_a_line():
    rules = parse_matchers('alertname=Watchdog\nseverity=~"info|none", env!=prod\nteam!~web.*')
    assert matches(rules, {"alertname": "Watchdog"})
    assert matches(rules, {"severity": "info", "env": "staging", "team": "web"})
    assert not matches(rules, {"severity": "info", "env": "prod", "team": "web-1"})
    assert matches(rules, {"team": "db"})  # team!~web.* holds
    assert not matches(rules, {"team": "webshop", "severity": "critical"})


@pytest.mark.parametrize("text", ["alertname", "severity=~(", "9bad=x"])
def test_a_bad_matcher_names_its_field_and_line(text):
    with pytest.raises(InvalidInput) as caught:
        parse_matchers(text, field="ignore_matchers")
    assert caught.value.field == "ignore_matchers" and "Line 1" in caught.value.message


def test_severity_and_services_through_the_maps():
    source = AlertSource(severity_map={"critical": "SEV2"}, service_map={"shop": "checkout"})
    rules = Rules.of(source)
    assert rules.severity_code({"severity": "Critical"}) == "SEV2"
    assert rules.severity_code({"severity": "odd"}) == "SEV3"
    assert rules.severity_code({"keel_severity": "sev1", "severity": "critical"}) == "SEV1"
    assert rules.service_slugs({"app": "shop"}) == {"checkout"}
    assert rules.service_slugs({"job": "node", "service": "api"}) == {"api"}
    assert rules.ignored({"alertname": "Watchdog"}) and not rules.declares({"severity": "info"})


def test_zero_and_unreadable_start_times_are_none():
    assert normalize.started_at("0001-01-01T00:00:00Z") is None
    assert normalize.started_at("yesterday") is None
    assert normalize.started_at("2026-11-23T01:00:00Z").year == 2026


class _Request:
    def __init__(self, raw: bytes):
        self.META = {"CONTENT_LENGTH": str(len(raw))}
        self._stream = io.BytesIO(raw)

    def read(self, size=-1):
        return self._stream.read(size)


def _raw(alerts: int, pad: int = 500) -> bytes:
    body = {
        "receiver": "keel",
        "status": "firing",
        "alerts": [am_alert(f"fp{i}", pod="p" * pad) for i in range(alerts)],
        "groupLabels": {"alertname": "X"},
        "externalURL": "http://am",
        "groupKey": "{}:{}",
    }
    return json.dumps(body).encode()


def test_a_whole_body_parses_and_a_body_over_the_cap_is_salvaged():
    raw = _raw(100)
    whole = intake_body.parse(intake_body.read(_Request(raw), cap=len(raw)))
    assert len(whole.payload["alerts"]) == 100 and whole.dropped_by_cap == 0

    cut = intake_body.parse(intake_body.read(_Request(raw), cap=len(raw) // 3))
    kept = len(cut.payload["alerts"])
    assert 0 < kept < 100 and cut.dropped_by_cap == 100 - kept
    assert cut.payload["groupKey"] == "{}:{}" and cut.payload["externalURL"] == "http://am"
    assert cut.payload["status"] == "firing"


def test_a_body_over_the_cap_without_alerts_is_refused():
    with pytest.raises(JSONInputError):
        intake_body.parse(intake_body.read(_Request(b'{"x": "' + b"y" * 1000 + b'"}'), cap=100))
