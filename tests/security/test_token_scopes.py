"""Scoped tokens: every scope and method, the intake endpoint, expiry, revocation,
the 403 body, and the permission on every API view."""

from datetime import timedelta

import pytest
from django.urls import get_resolver
from django.utils import timezone
from rest_framework.permissions import AllowAny
from rest_framework.test import APIClient

from common.models import ApiToken
from common.scopes import TokenScopePermission
from common.tokens import api_token_create, api_token_revoke
from incidents.models import Incident
from tests.factories.incidents import IncidentFactory, ServiceFactory
from tests.incidents.test_alertmanager import alert, notification

LIST = "/api/v1/incidents/"
INTAKE = "/api/v1/integrations/alertmanager/"


def _client(user, scopes, **kwargs) -> tuple[APIClient, ApiToken]:
    token, key = api_token_create(user=user, name="t", actor=user, scopes=scopes, **kwargs)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client, token


def _call(client: APIClient, operation: str):
    """One request of each kind a scope governs; returns the response."""
    if operation == "GET":
        return client.get(LIST)
    if operation == "HEAD":
        return client.head(LIST)
    if operation == "OPTIONS":
        return client.options(LIST)
    if operation == "POST":
        return client.post(LIST, {"title": "Checkout 502s", "severity": "SEV2"}, format="json")
    if operation == "PATCH":
        incident = IncidentFactory()
        return client.patch(f"{LIST}{incident.pk}/", {"title": "Renamed"}, format="json")
    if operation == "INTAKE":
        ServiceFactory(slug="checkout-api")
        return client.post(INTAKE, notification(alert("f1", service="checkout-api")), format="json")
    raise AssertionError(operation)


# scopes -> the operations they allow
MATRIX = {
    "read": {"GET", "HEAD", "OPTIONS"},
    "write": {"POST", "PATCH", "INTAKE"},
    "intake": {"INTAKE"},
    "read,write": {"GET", "HEAD", "OPTIONS", "POST", "PATCH", "INTAKE"},
    "read,intake": {"GET", "HEAD", "OPTIONS", "INTAKE"},
}
OPERATIONS = ["GET", "HEAD", "OPTIONS", "POST", "PATCH", "INTAKE"]
NEEDED = {"POST": ["write"], "PATCH": ["write"], "INTAKE": ["intake", "write"]}


@pytest.mark.parametrize("scopes", list(MATRIX))
@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_scope_and_method(responder, scopes, operation):
    client, token = _client(responder, scopes)
    response = _call(client, operation)
    if operation in MATRIX[scopes]:
        assert response.status_code in (200, 201), response.content
        return
    assert response.status_code == 403, response.content
    if operation == "HEAD":
        return  # no body
    body = response.json()
    needed = NEEDED.get(operation, ["read"])
    assert body["code"] == "insufficient_scope"
    assert body["required_scopes"] == needed and body["token_scopes"] == token.scope_list
    assert all(f"'{scope}'" in body["detail"] for scope in needed)
    assert body["errors"] == {}


def test_a_refused_write_changes_nothing(responder):
    client, _ = _client(responder, "read")
    assert _call(client, "POST").status_code == 403
    assert not Incident.objects.exists()


def test_scopes_narrow_a_token_never_widen_its_user(viewer):
    client, _ = _client(viewer, "read,write")
    response = _call(client, "POST")
    assert response.status_code == 403
    assert response.json()["code"] != "insufficient_scope"  # the viewer's own refusal


def test_the_browser_session_is_not_scoped(client, responder):
    client.force_login(responder)
    assert client.get(LIST).status_code == 200


def test_an_expired_intake_token_is_refused(responder):
    client, token = _client(responder, "intake", expires_at=timezone.now() + timedelta(hours=1))
    assert _call(client, "INTAKE").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(INTAKE, notification(alert("f2")), format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_a_revoked_token_is_refused_whatever_its_scopes(responder):
    client, token = _client(responder, "read,write,intake")
    assert client.get(LIST).status_code == 200
    api_token_revoke(token=token, actor=responder)
    assert client.get(LIST).status_code == 401
    assert client.post(INTAKE, notification(alert("f3")), format="json").status_code == 401


def test_tokens_minted_without_a_scope_keep_read_and_write(responder):
    token, _ = api_token_create(user=responder, name="legacy", actor=None)
    assert token.scope_list == ["read", "write"]


def test_every_api_view_checks_the_scope():
    """Every DRF view under /api/ carries the scope permission, unless it is public."""
    checked = []

    def walk(patterns):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                walk(pattern.url_patterns)
                continue
            view = getattr(pattern.callback, "cls", None)
            if view is None or not hasattr(view, "permission_classes"):
                continue
            classes = view.permission_classes
            if AllowAny in classes:
                continue
            assert TokenScopePermission in classes, view
            checked.append(view)

    walk(get_resolver().url_patterns)
    assert len(checked) > 25
