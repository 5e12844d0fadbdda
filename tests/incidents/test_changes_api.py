"""``GET, POST /api/v1/changes/`` (DESIGN.md) and ``trigger_change`` in the incident
output: token auth (Bearer too), the scope a CI token needs, Idempotency-Key,
field errors, the paginated list and its filters."""

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from incidents import changes, services
from incidents.models import Change
from tests.factories.common import api_key
from tests.factories.incidents import ServiceFactory, UserFactory, severity

pytestmark = pytest.mark.django_db
BASE = "/api/v1/changes/"
DEPLOY = {
    "service": "checkout",
    "kind": "deploy",
    "version": "2026.03.04-1",
    "who": "rita",
    "at": "2026-03-04T13:55:00Z",
    "link": "https://github.com/example/checkout/actions/runs/4242",
    "source": "github-actions",
}


@pytest.fixture
def checkout(db):
    return ServiceFactory(slug="checkout", name="Checkout")


@pytest.fixture
def ci_bot(db):
    return UserFactory(username="ci-bot", role="responder")


def _client(key: str, scheme: str = "Bearer") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
    return client


def test_ci_posts_a_deploy_with_a_bearer_intake_token(checkout, ci_bot):
    client = _client(api_key(ci_bot, scopes=["intake"], kind="integration"))
    response = client.post(BASE, DEPLOY, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["service"] == "checkout"
    assert body["kind"] == "deploy"
    assert body["version"] == "2026.03.04-1"
    assert body["who"] == "rita"
    assert body["at"] == "2026-03-04T13:55:00Z"
    assert body["link"] == DEPLOY["link"]
    assert body["source"] == "github-actions"
    assert body["title"] == "Deploy of checkout 2026.03.04-1"
    assert body["recorded_by"] == "ci-bot"
    change = Change.objects.get(pk=body["id"])
    assert change.recorded_by == ci_bot
    assert change.history.get().history_user == ci_bot


def test_token_scheme_works_too_and_at_defaults_to_now(checkout, ci_bot):
    client = _client(api_key(ci_bot, scopes=["read", "write"]), scheme="Token")
    before = datetime.now(UTC)
    response = client.post(BASE, {"service": "checkout", "kind": "feature_flag"}, format="json")
    assert response.status_code == 201, response.content
    change = Change.objects.get(pk=response.json()["id"])
    assert change.deployed_at >= before
    assert change.title == "Feature flag of checkout"


def test_a_read_token_cannot_post_and_an_intake_token_cannot_read(checkout, ci_bot):
    read_only = _client(api_key(ci_bot, scopes=["read"]))
    refused = read_only.post(BASE, DEPLOY, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_scope"
    assert set(refused.json()["required_scopes"]) == {"intake", "write"}
    intake = _client(api_key(ci_bot, scopes=["intake"], kind="integration"))
    assert intake.get(BASE).status_code == 403
    assert not Change.objects.exists()


def test_anonymous_and_viewers_are_refused(checkout, viewer, as_user):
    assert APIClient().post(BASE, DEPLOY, format="json").status_code == 401
    response = as_user(viewer).post(BASE, DEPLOY, format="json")
    assert response.status_code == 403
    assert not Change.objects.exists()
    assert as_user(viewer).get(BASE).status_code == 200


def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(checkout, ci_bot):
    client = _client(api_key(ci_bot, scopes=["intake"], kind="integration"))
    first = client.post(BASE, DEPLOY, format="json", HTTP_IDEMPOTENCY_KEY="run-4242-attempt-1")
    again = client.post(BASE, DEPLOY, format="json", HTTP_IDEMPOTENCY_KEY="run-4242-attempt-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Change.objects.count() == 1
    other = client.post(
        BASE, {**DEPLOY, "version": "2"}, format="json", HTTP_IDEMPOTENCY_KEY="run-4242-attempt-1"
    )
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["errors"]
    assert Change.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**DEPLOY, "service": "no-such-service"}, "service"),
        ({key: value for key, value in DEPLOY.items() if key != "service"}, "service"),
        ({**DEPLOY, "service": "a\x00b"}, "service"),
        ({**DEPLOY, "kind": "rollout"}, "kind"),
        ({**DEPLOY, "version": "v" * 201}, "version"),
        ({**DEPLOY, "version": "1.0\n2.0"}, "version"),
        ({**DEPLOY, "who": "w" * 151}, "who"),
        ({**DEPLOY, "at": "yesterday"}, "at"),
        ({**DEPLOY, "link": "not a url"}, "link"),
        ({**DEPLOY, "link": "https://example.com/" + "x" * 500}, "link"),
        ({**DEPLOY, "source": "s" * 101}, "source"),
        ({**DEPLOY, "title": "t" * 201}, "title"),
    ],
)
def test_bad_input_names_the_field(checkout, ci_bot, body, field):
    client = _client(api_key(ci_bot, scopes=["intake"], kind="integration"))
    response = client.post(BASE, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert not Change.objects.exists()


def test_a_deeply_nested_body_is_refused_not_a_500(checkout, ci_bot):
    client = _client(api_key(ci_bot, scopes=["intake"], kind="integration"))
    nested = "[" * 500 + "]" * 500
    response = client.post(BASE, '{"service": ' + nested + "}", content_type="application/json")
    assert response.status_code == 400


def _record(service, *, at, kind=Change.Kind.DEPLOY, actor):
    return changes.change_record(actor=actor, service=service, kind=kind, version="v", at=at)


def test_the_list_is_paginated_newest_first_and_filtered(checkout, responder, as_user):
    search = ServiceFactory(slug="search")
    start = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    for minutes in range(5):
        _record(checkout, at=start + timedelta(minutes=minutes), actor=responder)
    _record(search, at=start, kind=Change.Kind.CONFIG, actor=responder)
    client = as_user(responder)

    page = client.get(BASE, {"page_size": 2}).json()
    assert page["count"] == 6
    assert len(page["results"]) == 2 and page["next"]
    ats = [row["at"] for row in client.get(BASE).json()["results"]]
    assert ats == sorted(ats, reverse=True)

    assert client.get(BASE, {"service": "search"}).json()["count"] == 1
    assert client.get(BASE, {"kind": "config"}).json()["count"] == 1
    since = client.get(BASE, {"since": "2026-03-04T12:03:00Z"}).json()
    assert [row["at"] for row in since["results"]] == [
        "2026-03-04T12:04:00Z",
        "2026-03-04T12:03:00Z",
    ]
    assert client.get(BASE, {"kind": "rollout"}).status_code == 400
    assert client.get(BASE, {"since": "soon"}).status_code == 400


def test_the_list_makes_a_fixed_number_of_queries(
    checkout, responder, as_user, django_assert_max_num_queries
):
    for minutes in range(20):
        _record(checkout, at=datetime(2026, 3, 4, 12, minutes, tzinfo=UTC), actor=responder)
    client = as_user(responder)
    with django_assert_max_num_queries(8):
        assert client.get(BASE).status_code == 200


def test_trigger_change_is_in_the_incident_output(checkout, responder, as_user):
    change = _record(checkout, at=datetime.now(UTC) - timedelta(minutes=10), actor=responder)
    incident = services.incident_declare(
        title="Checkout 502s", severity=severity("SEV2"), services=[checkout], actor=responder
    )
    client = as_user(responder)
    assert client.get(f"/api/v1/incidents/{incident.pk}/").json()["trigger_change"] is None
    changes.incident_trigger_change_mark(incident=incident, change=change, actor=responder)
    body = client.get(f"/api/v1/incidents/{incident.pk}/").json()
    assert body["preceding_change"] == change.pk
    assert body["trigger_change"]["id"] == change.pk
    assert body["trigger_change"]["service"] == "checkout"
    listed = client.get("/api/v1/incidents/").json()["results"]
    assert listed[0]["trigger_change"]["version"] == "v"
