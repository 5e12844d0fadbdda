"""Idempotency-Key on creating POSTs: replay, conflict, scope, and real concurrency."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from common.idempotency import MAX_KEY_LENGTH
from common.models import IdempotencyKey
from incidents import services
from incidents.models import Decision, Incident, TimelineEvent
from tests.factories.common import api_key
from tests.factories.incidents import UserFactory, severity

BASE = "/api/v1/incidents/"
BODY = {"title": "Checkout 500s", "severity": "SEV2"}


def _post(client, path=BASE, body=BODY, key="key-1"):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_same_key_same_body_replays_and_creates_one(as_user, responder):
    client = as_user(responder)
    first = _post(client)
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    second = _post(client)
    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert Incident.objects.count() == 1
    assert TimelineEvent.objects.count() == 1
    assert IdempotencyKey.objects.get().response_status == 201


@pytest.mark.django_db
def test_the_body_fingerprint_ignores_key_order(as_user, responder):
    client = as_user(responder)
    _post(client, body={"title": "a", "severity": "SEV3"})
    again = _post(client, body={"severity": "SEV3", "title": "a"})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_same_key_different_body_is_422(as_user, responder):
    client = as_user(responder)
    _post(client)
    response = _post(client, body={**BODY, "title": "Something else"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "unprocessable"
    assert "Idempotency-Key" in body["errors"]
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_without_a_key_every_post_creates(as_user, responder):
    client = as_user(responder)
    client.post(BASE, BODY, format="json")
    client.post(BASE, BODY, format="json")
    assert Incident.objects.count() == 2
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_keys_are_scoped_per_user(as_user, responder):
    other = UserFactory(username="olga", role="responder")
    first = _post(as_user(responder))
    second = _post(as_user(other))
    assert "Idempotent-Replayed" not in second.headers
    assert first.json()["id"] != second.json()["id"]
    assert Incident.objects.count() == 2


@pytest.mark.django_db
def test_keys_are_scoped_per_endpoint(as_user, responder):
    client = as_user(responder)
    a = services.incident_declare(title="a", severity=severity("SEV3"), actor=responder)
    b = services.incident_declare(title="b", severity=severity("SEV3"), actor=responder)
    note = {"text": "hello"}
    _post(client, f"{BASE}{a.pk}/timeline/", note, key="same")
    second = _post(client, f"{BASE}{b.pk}/timeline/", note, key="same")
    assert "Idempotent-Replayed" not in second.headers
    third = _post(
        client,
        f"{BASE}{a.pk}/decisions/",
        {"options": ["x"], "chosen": "x", "rationale": "r"},
        key="same",
    )
    assert third.status_code == 201 and "Idempotent-Replayed" not in third.headers
    assert TimelineEvent.objects.filter(kind="note").count() == 2
    assert Decision.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("{id}/timeline/", {"text": "once"}),
        ("{id}/decisions/", {"options": ["a"], "chosen": "a", "rationale": "r"}),
        ("{id}/stage/", {"stage": "judge"}),
        ("{id}/roles/", {"role": "responder", "user": "rita"}),
    ],
)
def test_every_creating_post_replays(as_user, responder, path, body):
    incident = services.incident_declare(title="a", severity=severity("SEV3"), actor=responder)
    client = as_user(responder)
    url = BASE + path.format(id=incident.pk)
    first = _post(client, url, body)
    assert first.status_code in (200, 201), first.content
    events = TimelineEvent.objects.count()
    second = _post(client, url, body)
    assert second.status_code == first.status_code
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert TimelineEvent.objects.count() == events


@pytest.mark.django_db
def test_a_stage_move_retried_with_its_key_is_not_a_409(as_user, responder):
    incident = services.incident_declare(title="a", severity=severity("SEV3"), actor=responder)
    client = as_user(responder)
    url = f"{BASE}{incident.pk}/stage/"
    assert _post(client, url, {"stage": "judge"}).status_code == 200
    assert _post(client, url, {"stage": "judge"}).status_code == 200
    assert client.post(url, {"stage": "judge"}, format="json").status_code == 409


@pytest.mark.django_db
def test_failed_requests_are_not_remembered(as_user, responder, viewer):
    client = as_user(responder)
    bad = _post(client, body={"title": "x" * 201, "severity": "SEV2"})
    assert bad.status_code == 400
    assert not IdempotencyKey.objects.exists()
    # The client fixes the body and retries with the same key: it goes through.
    assert _post(client).status_code == 201
    # A refused viewer leaves no key behind either.
    assert _post(as_user(viewer)).status_code == 403
    assert IdempotencyKey.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key", ["", "   ", "k" * (MAX_KEY_LENGTH + 1), "a\x00b", "line\nbreak", "tab\there"]
)
def test_bad_keys_are_400(as_user, responder, key):
    response = _post(as_user(responder), key=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_longest_key_is_accepted(as_user, responder):
    client = as_user(responder)
    key = "k" * MAX_KEY_LENGTH
    assert _post(client, key=key).status_code == 201
    assert _post(client, key=key).headers["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_keys_are_trimmed(as_user, responder):
    client = as_user(responder)
    _post(client, key="abc")
    assert _post(client, key="  abc  ").headers["Idempotent-Replayed"] == "true"


# --- concurrency: only meaningful on PostgreSQL ---------------------------------------
# serialized_rollback: a transactional test flushes the tables, seeded severities included;
# this puts them back for the next test.


def _race(users, body, key, path=BASE, n=2):
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def run(i):
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {users[i]}")
            barrier.wait(timeout=10)
            response = client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
            results[i] = (response.status_code, response.json(), response.headers)
        except Exception as exc:  # reported to the main thread, never swallowed
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    return results


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_requests_with_one_key_create_one_incident(postgres_only):
    user = UserFactory(username="rita", role="responder")
    token = api_key(user)
    for attempt in range(3):
        key = f"race-{attempt}"
        results = _race([token, token], BODY, key)
        statuses = [status for status, _, _ in results]
        assert statuses == [201, 201], results
        ids = {body["id"] for _, body, _ in results}
        assert len(ids) == 1, results
        replayed = [headers.get("Idempotent-Replayed") for _, _, headers in results]
        assert sorted(replayed, key=str) == sorted([None, "true"], key=str)
        assert IdempotencyKey.objects.filter(key=key).count() == 1
    assert Incident.objects.count() == 3


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_many_concurrent_requests_with_one_key(postgres_only):
    user = UserFactory(username="rita", role="responder")
    token = api_key(user)
    results = _race([token] * 6, BODY, "crowd", n=6)
    assert {status for status, _, _ in results} == {201}
    assert len({body["id"] for _, body, _ in results}) == 1
    assert Incident.objects.count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_same_key_different_body_one_wins_one_422(postgres_only):
    user = UserFactory(username="rita", role="responder")
    token = api_key(user)
    barrier = threading.Barrier(2)
    results = {}

    def run(title):
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            barrier.wait(timeout=10)
            response = client.post(
                BASE, {**BODY, "title": title}, format="json", HTTP_IDEMPOTENCY_KEY="split"
            )
            results[title] = response.status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(t,)) for t in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results.values()) == [201, 422]
    assert Incident.objects.count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_request_arriving_while_the_first_is_in_flight_waits_and_replays(
    postgres_only, monkeypatch
):
    """Hold the first request inside its handler (key row inserted, not committed) so
    the second surely reaches the unique index while the first is in flight."""
    import time

    from incidents import services as incident_services

    user = UserFactory(username="rita", role="responder")
    token = api_key(user)
    entered, release = threading.Event(), threading.Event()
    real_declare = incident_services.incident_declare
    calls = []

    def slow_declare(**kwargs):
        calls.append(kwargs["title"])
        entered.set()
        assert release.wait(timeout=10)
        return real_declare(**kwargs)

    monkeypatch.setattr(incident_services, "incident_declare", slow_declare)
    results = {}

    def run(name):
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            response = client.post(BASE, BODY, format="json", HTTP_IDEMPOTENCY_KEY="in-flight")
            results[name] = (
                response.status_code,
                response.json()["id"],
                response.headers.get("Idempotent-Replayed"),
            )
        finally:
            connection.close()

    first = threading.Thread(target=run, args=("first",))
    first.start()
    assert entered.wait(timeout=10)
    second = threading.Thread(target=run, args=("second",))
    second.start()
    time.sleep(0.3)  # let the second request reach the unique index (not an assertion)
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert results["first"][:2] == results["second"][:2]
    assert results["first"][0] == 201
    assert results["second"][2] == "true"
    assert calls == ["Checkout 500s"]  # the handler ran once
    assert Incident.objects.count() == 1
