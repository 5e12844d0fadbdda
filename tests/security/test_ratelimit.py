"""The one rate limiter (common.ratelimit) and the Slack endpoints it guards."""

import pytest
from django.test import Client

from common import ratelimit
from notifications.models import SlackRequest
from tests.fakes.slack import SIGNING_SECRET, action_body, command_body, signed_post

COMMANDS = "/integrations/slack/commands/"
INTERACTIONS = "/integrations/slack/interactions/"


def test_hit_counts_within_a_window_and_says_when_to_retry():
    decisions = [ratelimit.hit("t", "a", limit=3, window=60) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.count for d in decisions] == [1, 2, 3, 4]
    assert 1 <= decisions[-1].retry_after <= 60
    # Another identity, another scope: their own counters.
    assert ratelimit.hit("t", "b", limit=3, window=60).allowed
    assert ratelimit.hit("u", "a", limit=3, window=60).allowed


def test_peek_does_not_count_and_reset_forgets():
    for _ in range(2):
        ratelimit.hit("t", "a", limit=2, window=60)
    assert ratelimit.peek("t", "a", limit=3, window=60).allowed
    assert ratelimit.peek("t", "a", limit=3, window=60).count == 2
    assert not ratelimit.peek("t", "a", limit=2, window=60).allowed
    ratelimit.reset("t", "a", window=60)
    assert ratelimit.peek("t", "a", limit=2, window=60).count == 0


def test_any_identity_is_a_safe_key():
    odd = "x" * 10_000 + " \n\x00\ud800"
    assert ratelimit.hit("t", odd, limit=1, window=60).allowed
    assert not ratelimit.hit("t", odd, limit=1, window=60).allowed


def test_an_unreachable_cache_lets_requests_through(settings):
    # Overriding CACHES resets the cache connections (Django's setting_changed).
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    decision = ratelimit.hit("t", "a", limit=0, window=60)
    assert decision.allowed and decision.count == 0
    assert ratelimit.peek("t", "a", limit=0, window=60).allowed


@pytest.fixture
def slack_settings(settings):
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    settings.KEEL_SLACK_RATE_LIMIT = 3
    return settings


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body"),
    [
        (COMMANDS, command_body("help", user="URITA")),
        (INTERACTIONS, action_body("incident_ack", "1", user="URITA")),
    ],
)
def test_slack_endpoints_answer_429_with_retry_after_past_the_limit(slack_settings, path, body):
    client = Client()
    statuses = [signed_post(client, path, body).status_code for _ in range(3)]
    assert 429 not in statuses
    before = SlackRequest.objects.count()
    refused = signed_post(client, path, body)
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= slack_settings.KEEL_SLACK_RATE_WINDOW_SECONDS
    assert SlackRequest.objects.count() == before  # nothing recorded for the refused one
    # Another address is not affected.
    assert signed_post(client, path, body, REMOTE_ADDR="198.51.100.8").status_code != 429


@pytest.mark.django_db
def test_unsigned_floods_are_throttled_before_the_signature_is_checked(slack_settings):
    client = Client()
    body = command_body("help", user="URITA")
    for _ in range(3):
        assert signed_post(client, COMMANDS, body, secret="wrong").status_code == 401
    assert signed_post(client, COMMANDS, body, secret="wrong").status_code == 429
