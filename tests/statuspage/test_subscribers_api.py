"""``POST /api/v2/subscribers.json``: Statuspage's public subscribe call, through the
form's service: double opt-in by email, an echoed challenge for webhooks, the same
budgets (failing closed), and nothing that tells a stranger who is subscribed."""

import json
import re
from urllib.parse import urlencode

import pytest
from django.core import mail
from django.core.cache import cache
from rest_framework.test import APIClient

from statuspage import subscriber_outbox
from statuspage.subscriber_models import Subscriber, SubscriberNotification
from tests.integration.conftest import free_port
from tests.security.test_subscribe_abuse import endpoint as endpoint

pytestmark = pytest.mark.django_db
URL = "/api/v2/subscribers.json"
Status = SubscriberNotification.Status


@pytest.fixture(autouse=True)
def real_limits(settings, monkeypatch):
    from statuspage import tasks

    monkeypatch.setattr(tasks.subscriber_notification_send_task, "apply_async", lambda *a, **k: 0)
    settings.KEEL_SUBSCRIBE_PER_ADDRESS = 3
    settings.KEEL_SUBSCRIBE_PER_CLIENT = 10
    settings.KEEL_SUBSCRIBE_GLOBAL = 200
    cache.clear()


def send_all():
    for row in SubscriberNotification.objects.filter(status=Status.PENDING):
        subscriber_outbox.notification_attempt(row.pk)


def post(body, *, remote="198.51.100.7", form=False):
    client = APIClient()  # anonymous: no session, no token, no CSRF token
    if form:
        return client.post(
            URL,
            urlencode(body, doseq=True),
            content_type="application/x-www-form-urlencoded",
            REMOTE_ADDR=remote,
        )
    return client.post(URL, json.dumps(body), content_type="application/json", REMOTE_ADDR=remote)


def test_an_email_subscription_is_confirmed_by_its_link_first(components):
    api = components["api"].public_id
    response = post({"subscriber": {"email": "Ann@Example.test", "component_ids": [api]}})

    assert response.status_code == 202, response.content
    assert response.json()["subscriber"] == {
        "mode": "email",
        "email": "ann@example.test",
        "component_ids": [api],
    }
    assert "confirmation link" in response.json()["detail"]
    assert not response.cookies
    subscriber = Subscriber.objects.get(email="ann@example.test")
    assert subscriber.confirmed_at is None
    assert list(subscriber.components.values_list("slug", flat=True)) == ["api"]
    send_all()
    (message,) = mail.outbox
    assert "/status/subscriptions/confirm/" in message.body


def test_statuspages_form_encoding_works_too(components):
    ids = [components["api"].public_id, components["email"].public_id]
    body = {"subscriber[email]": "bo@example.test", "subscriber[component_ids][]": ids}

    response = post(body, form=True)

    assert response.status_code == 202, response.content
    subscriber = Subscriber.objects.get(email="bo@example.test")
    assert set(subscriber.components.values_list("public_id", flat=True)) == set(ids)


def test_the_answer_does_not_tell_whether_an_address_is_subscribed(components):
    Subscriber.objects.create(
        kind="email", email="known@example.test", confirmed_at="2026-01-01T00:00:00Z"
    )
    known = post({"subscriber": {"email": "known@example.test"}})
    unknown = post({"subscriber": {"email": "new@example.test"}})

    assert known.status_code == unknown.status_code == 202
    assert known.json()["detail"] == unknown.json()["detail"]
    assert set(known.json()["subscriber"]) == set(unknown.json()["subscriber"])
    send_all()
    to_known = next(m for m in mail.outbox if m.to == ["known@example.test"])
    assert "nothing was changed" in to_known.body  # its owner is told, nobody else


@pytest.mark.parametrize("endpoint", ["echo"], indirect=True)
def test_a_webhook_gets_its_secret_once_and_is_confirmed_by_the_echo(endpoint, components):
    response = post({"subscriber": {"endpoint": endpoint.url, "email": "ops@example.test"}})

    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()["subscriber"]
    assert body["mode"] == "webhook" and body["endpoint"] == endpoint.url
    assert body["confirmed_at"] is None and re.fullmatch(r"whsec_[A-Za-z0-9+/=]+", body["secret"])
    endpoint.secret = body["secret"]
    assert endpoint.events == []  # the request itself sends nothing
    send_all()

    subscriber = Subscriber.objects.get(public_id=body["id"])
    assert subscriber.confirmed_at is not None and subscriber.email == ""
    assert [e["type"] for e in endpoint.events] == ["endpoint.verification"]
    assert endpoint.bad_signatures == 0

    again = post({"subscriber": {"endpoint": endpoint.url}})
    assert again.status_code == 409
    assert again.json()["code"] == "already_subscribed"
    assert "secret" not in json.dumps(again.json())
    assert Subscriber.objects.filter(kind="webhook").count() == 1


def test_the_form_and_the_api_spend_one_budget_per_address(components, client):
    for n in range(2):  # the budget is per mailbox: +tags share it
        client.post(
            "/status/subscriptions/",
            {"kind": "email", "email": f"victim+{n}@example.test"},
            REMOTE_ADDR="203.0.113.1",
        )
    assert post({"subscriber": {"email": "victim+2@example.test"}}).status_code == 202

    refused = post({"subscriber": {"email": "Victim+3@example.test"}})

    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert refused.json()["code"] == "rate_limited"
    assert "subscriber.email" in refused.json()["errors"]
    assert Subscriber.objects.count() == 3  # a refused request stores nothing


def test_one_client_cannot_mail_many_people_through_the_api(components):
    answers = [post({"subscriber": {"email": f"p{n}@example.test"}}).status_code for n in range(12)]

    assert answers.count(202) == 10 and answers.count(429) == 2
    send_all()
    assert len(mail.outbox) == 10


def test_without_the_limit_store_it_refuses_rather_than_runs_unlimited(settings, components):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    response = post({"subscriber": {"email": "a@example.test"}})

    assert response.status_code == 429 and response["Retry-After"] == "60"
    assert not Subscriber.objects.exists()


def named(errors: dict, field: str) -> bool:
    """``subscriber.email`` as the service names it, or nested as the serializer does."""
    head, _, rest = field.partition(".")
    nested = errors.get(head)
    return (
        field in errors
        or (not rest and head in errors)
        or (isinstance(nested, dict) and rest in nested)
    )


@pytest.mark.parametrize(
    "subscriber,field",
    [
        ({"email": "not-an-address"}, "subscriber.email"),
        ({"email": "x" * 255 + "@example.test"}, "subscriber.email"),
        ({"email": "a\r\nBcc: victim@example.test"}, "subscriber.email"),
        ({"email": "a@example.test", "component_ids": ["nope"]}, "subscriber.component_ids"),
        ({"endpoint": "http://127.0.0.1:9/hook"}, "subscriber.endpoint"),
        ({"endpoint": "ftp://example.com/"}, "subscriber.endpoint"),
        ({"endpoint": "https://example.com/" + "a" * 500}, "subscriber"),
        ({}, "subscriber.email"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_stored(components, subscriber, field):
    response = post({"subscriber": subscriber})

    assert response.status_code == 400, response.content
    body = response.json()
    assert {"detail", "code", "errors"} <= set(body)
    assert named(body["errors"], field), body
    assert not Subscriber.objects.exists() and not SubscriberNotification.objects.exists()


def test_a_nul_is_refused_before_it_reaches_the_database(components):
    response = APIClient().post(
        URL,
        '{"subscriber": {"email": "a\\u0000b@example.test"}}',
        content_type="application/json",
    )
    assert response.status_code == 400 and "subscriber" in response.json()["errors"]
    assert not Subscriber.objects.exists()


def test_reading_it_is_not_a_thing(components):
    assert APIClient().get(URL).status_code == 405
