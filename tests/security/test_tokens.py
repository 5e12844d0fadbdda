"""API tokens: stored hashed, Token and Bearer, expiry, revocation, rotation,
last-used bookkeeping, the admin, mint_token, and throttled failures."""

import hashlib
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from common.models import ApiToken
from common.tokens import api_token_create, api_token_revoke, api_token_rotate
from incidents.models import Incident
from tests.factories.common import api_key
from tests.factories.incidents import UserFactory

LIST = "/api/v1/incidents/"
BODY = {"title": "Checkout 502s", "severity": "SEV2"}


def _client(header: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    return client


def test_only_a_hash_of_the_key_is_stored(responder):
    token, key = api_token_create(user=responder, name="ci", actor=responder)
    assert key.startswith("keel_") and len(key) >= 40
    row = ApiToken.objects.values().get(pk=token.pk)
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert row["prefix"] == key[:12]
    assert all(key not in str(value) for value in row.values())


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "bearer"])
def test_token_and_bearer_both_authenticate_reads_and_writes(responder, scheme):
    client = _client(f"{scheme} {api_key(responder)}")
    assert client.get(LIST).status_code == 200
    response = client.post(LIST, BODY, format="json")
    assert response.status_code == 201, response.content
    assert Incident.objects.get(pk=response.json()["id"]).detected_by == responder


def test_an_unknown_key_is_401_with_both_challenges(db):
    response = _client("Bearer keel_not-a-real-key").get(LIST)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert response.headers["WWW-Authenticate"] == 'Token, Bearer realm="api"'


def test_a_header_with_extra_parts_is_401(responder):
    response = _client(f"Bearer {api_key(responder)} extra").get(LIST)
    assert response.status_code == 401


def test_an_expired_token_is_refused(responder):
    key = api_key(responder, expires_at=timezone.now() + timedelta(days=1))
    client = _client(f"Bearer {key}")
    assert client.get(LIST).status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(LIST).status_code == 401


def test_a_revoked_token_is_refused_and_kept_for_the_audit(responder, admin_user):
    token, key = api_token_create(user=responder, name="ci", actor=admin_user)
    client = _client(f"Token {key}")
    assert client.get(LIST).status_code == 200
    api_token_revoke(token=token, actor=admin_user)
    assert client.get(LIST).status_code == 401
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == admin_user


def test_rotation_refuses_the_old_key_and_keeps_name_and_lifetime(responder):
    token, old = api_token_create(
        user=responder,
        name="grafana",
        actor=responder,
        expires_at=timezone.now() + timedelta(days=30),
    )
    new_token, new = api_token_rotate(token=token, actor=responder)
    assert _client(f"Bearer {old}").get(LIST).status_code == 401
    assert _client(f"Bearer {new}").get(LIST).status_code == 200
    assert new_token.name == "grafana"
    assert timedelta(days=29) < new_token.expires_at - timezone.now() <= timedelta(days=30)
    assert ApiToken.objects.filter(user=responder).count() == 2


def test_a_token_of_a_deactivated_user_is_refused(responder):
    client = _client(f"Bearer {api_key(responder)}")
    responder.is_active = False
    responder.save(update_fields=["is_active"])
    assert client.get(LIST).status_code == 401


def test_last_used_is_written_at_most_once_a_minute(responder):
    token, key = api_token_create(user=responder, name="ci", actor=responder)
    client = _client(f"Bearer {key}")
    assert token.last_used_at is None
    client.get(LIST)
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    client.get(LIST)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get(LIST)
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first


def test_mint_token_prints_a_working_key_once(responder):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "mint_token",
        responder.username,
        "--name",
        "alerts",
        "--expires-days",
        "7",
        stdout=out,
        stderr=err,
    )
    key = out.getvalue().strip()
    token = ApiToken.objects.get(user=responder)
    assert token.name == "alerts" and token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert timedelta(days=6) < token.expires_at - timezone.now() <= timedelta(days=7)
    assert key not in err.getvalue()
    assert _client(f"Bearer {key}").get(LIST).status_code == 200


def test_mint_token_rotate_revokes_the_tokens_of_that_name(responder):
    first = io.StringIO()
    call_command(
        "mint_token", responder.username, "--name", "ci", stdout=first, stderr=io.StringIO()
    )
    second = io.StringIO()
    call_command(
        "mint_token",
        responder.username,
        "--name",
        "ci",
        "--rotate",
        stdout=second,
        stderr=io.StringIO(),
    )
    assert _client(f"Bearer {first.getvalue().strip()}").get(LIST).status_code == 401
    assert _client(f"Bearer {second.getvalue().strip()}").get(LIST).status_code == 200
    assert ApiToken.objects.filter(user=responder, revoked_at__isnull=True).count() == 1


@pytest.mark.parametrize(
    "args", [["--name", ""], ["--name", "x" * 101], ["--expires-days", "0"], []]
)
def test_mint_token_refuses_bad_arguments(responder, args):
    from django.core.management.base import CommandError

    username = responder.username if args else "nobody"
    with pytest.raises(CommandError):
        call_command("mint_token", username, *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert ApiToken.objects.count() == 0


def test_the_admin_lists_tokens_by_prefix_and_never_the_secret(client, admin_user, responder):
    token, key = api_token_create(user=responder, name="ci", actor=admin_user)
    client.force_login(admin_user)
    page = client.get("/admin/common/apitoken/").content.decode()
    assert token.prefix in page
    assert key not in page and token.key_hash not in page
    detail = client.get(f"/admin/common/apitoken/{token.pk}/change/").content.decode()
    assert key not in detail and token.key_hash not in detail


def test_the_admin_mints_a_token_and_shows_the_key_once(client, admin_user, responder):
    client.force_login(admin_user)
    response = client.post(
        "/admin/common/apitoken/add/",
        {"user": responder.pk, "name": "grafana", "kind": "integration", "scopes": "intake"},
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(user=responder)
    assert (token.kind, token.scope_list) == ("integration", ["intake"])
    page = response.content.decode()
    start = page.index('id="minted-key">') + len('id="minted-key">')
    key = page[start : page.index("<", start)]
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert token.created_by == admin_user
    assert key not in client.get("/admin/common/apitoken/").content.decode()


def test_the_admin_revokes(client, admin_user, responder):
    token, key = api_token_create(user=responder, name="ci", actor=admin_user)
    client.force_login(admin_user)
    client.post(
        "/admin/common/apitoken/",
        {"action": "revoke_selected", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_by == admin_user
    assert _client(f"Bearer {key}").get(LIST).status_code == 401


def test_failed_token_checks_are_throttled_per_address(settings, responder):
    settings.KEEL_TOKEN_FAILURE_LIMIT = 3
    good = api_key(responder)
    for _ in range(3):
        assert _client("Bearer keel_wrong").get(LIST).status_code == 401
    refused = _client("Bearer keel_wrong").get(LIST)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= settings.KEEL_TOKEN_FAILURE_WINDOW_SECONDS
    # Even the right key is refused from that address until the window passes...
    assert _client(f"Bearer {good}").get(LIST).status_code == 429
    # ...while another address is not affected.
    other = APIClient(REMOTE_ADDR="203.0.113.9")
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {good}")
    assert other.get(LIST).status_code == 200


def test_forwarded_for_is_trusted_only_behind_a_declared_proxy(settings, responder):
    settings.KEEL_TOKEN_FAILURE_LIMIT = 1
    _client("Bearer keel_wrong").get(LIST, HTTP_X_FORWARDED_FOR="198.51.100.1")
    # Without a trusted proxy the header is the client's own: ignored, 127.0.0.1 is blocked.
    blocked = _client("Bearer keel_x").get(LIST, HTTP_X_FORWARDED_FOR="198.51.100.2")
    assert blocked.status_code == 429
    settings.KEEL_TRUSTED_PROXY_COUNT = 1
    other = _client("Bearer keel_x").get(LIST, HTTP_X_FORWARDED_FOR="198.51.100.3")
    assert other.status_code == 401


def test_the_schema_declares_bearer_and_token(client):
    import yaml

    schema = yaml.safe_load(client.get("/api/schema/").content)
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["type"] == "http"
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert "insufficient_scope" in schemes["bearerAuth"]["description"]
    assert schemes["tokenAuth"]["type"] == "apiKey"
    security = schema["paths"]["/api/v1/incidents/"]["get"]["security"]
    assert {"bearerAuth": []} in security and {"tokenAuth": []} in security


def test_drf_tokens_are_carried_over_as_hashes(responder):
    """The data migration, run against a DRF ``authtoken_token`` table."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("common.migrations.0002_api_tokens_hashed")
    old_key = "a" * 40
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            "created timestamp with time zone NOT NULL, user_id bigint NOT NULL)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES (%s, now(), %s)", [old_key, responder.pk]
        )
    with connection.schema_editor() as editor:
        migration.carry_over_drf_tokens(apps, editor)
    token = ApiToken.objects.get(user=responder)
    assert token.key_hash == hashlib.sha256(old_key.encode()).hexdigest()
    assert _client(f"Token {old_key}").get(LIST).status_code == 200


def test_a_new_user_without_a_token_is_anonymous_to_the_api(db):
    UserFactory(username="nobody")
    assert APIClient().get(LIST).status_code == 401
