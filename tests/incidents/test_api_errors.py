"""One error shape everywhere: {"detail", "code", "errors"}; never a 500."""

import json

import pytest
from django.test import override_settings

from incidents import services
from incidents.models import Incident
from tests.factories.incidents import severity

pytestmark = pytest.mark.django_db
BASE = "/api/v1/incidents/"


@pytest.fixture
def incident(responder):
    return services.incident_declare(
        title="Checkout 500s", severity=severity("SEV3"), actor=responder
    )


def _shape(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"detail", "code", "errors"}, body
    assert isinstance(body["detail"], str) and isinstance(body["code"], str)
    assert isinstance(body["errors"], dict)
    for field, messages in body["errors"].items():
        assert isinstance(field, str)
        assert isinstance(messages, list | dict)
    return body


def test_validation_error_shape(as_user, responder):
    body = _shape(as_user(responder).post(BASE, {"title": "x" * 201}, format="json"), 400)
    assert body["code"] == "invalid"
    assert body["errors"]["title"] == ["Ensure this field has no more than 200 characters."]
    assert body["errors"]["severity"] == ["This field is required."]


def test_nested_list_errors_are_flattened_to_strings(as_user, responder):
    body = _shape(
        as_user(responder).post(
            BASE, {"title": "x", "severity": "SEV3", "services": ["a", "b"]}, format="json"
        ),
        400,
    )
    assert isinstance(body["errors"]["services"], dict | list)
    assert "a" in json.dumps(body["errors"]["services"])


def test_domain_error_shape(as_user, incident, responder):
    client = as_user(responder)
    body = _shape(
        client.post(f"{BASE}{incident.pk}/stage/", {"stage": "detect"}, format="json"), 409
    )
    assert body["code"] == "illegal_stage_move"
    assert body["errors"] == {}


def test_domain_error_with_a_field(as_user, responder):
    body = _shape(
        as_user(responder).post(
            BASE,
            {"title": "x", "severity": "SEV3", "detected_at": "2999-01-01T00:00:00Z"},
            format="json",
        ),
        400,
    )
    assert body["errors"] == {"detected_at": ["Detection cannot be in the future."]}


def test_permission_and_auth_error_shape(as_user, api_client, viewer):
    _shape(as_user(viewer).post(BASE, {"title": "x", "severity": "SEV3"}, format="json"), 403)
    _shape(api_client.get(BASE), 401)


def test_not_found_shape(as_user, responder):
    assert _shape(as_user(responder).get(f"{BASE}424242/"), 404)["code"] == "not_found"


def test_unknown_api_path_is_json_404(as_user, responder):
    response = as_user(responder).get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "raw",
    [b"{", b"not json", b'{"title": "x",}', b"\xff\xfe\x00", b'{"title": NaN}', b"[1, 2"],
)
def test_malformed_json_is_400(as_user, responder, raw):
    response = as_user(responder).generic("POST", BASE, raw, content_type="application/json")
    body = _shape(response, 400)
    assert body["code"] == "parse_error"
    assert not Incident.objects.exists()


@pytest.mark.parametrize("raw", [b"[]", b"null", b"42", b'"text"', b"true", b"[{}]"])
def test_json_that_is_not_an_object_is_400(as_user, incident, responder, raw):
    client = as_user(responder)
    for path in (
        "",
        f"{incident.pk}/stage/",
        f"{incident.pk}/timeline/",
        f"{incident.pk}/decisions/",
        f"{incident.pk}/roles/",
        f"{incident.pk}/close/",
    ):
        response = client.generic("POST", BASE + path, raw, content_type="application/json")
        assert response.status_code in (200, 400), (path, response.content)
        if response.status_code == 400:
            _shape(response, 400)
    response = client.generic(
        "PATCH", f"{BASE}{incident.pk}/", raw, content_type="application/json"
    )
    assert response.status_code in (200, 400)


def test_unsupported_media_type_is_415(as_user, responder):
    response = as_user(responder).post(
        BASE, "title=x", content_type="application/x-www-form-urlencoded"
    )
    assert _shape(response, 415)["code"] == "unsupported_media_type"


@override_settings(KEEL_MAX_BODY_BYTES=1024)
def test_bodies_over_the_limit_are_413_json(as_user, incident, responder):
    client = as_user(responder)
    big = {"title": "x", "severity": "SEV3", "summary": "s" * 2000}
    response = client.post(BASE, big, format="json")
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "request_too_large" and "1024" in body["detail"]
    response = client.patch(f"{BASE}{incident.pk}/", {"summary": "s" * 2000}, format="json")
    assert response.status_code == 413
    assert not Incident.objects.exclude(pk=incident.pk).exists()


def test_the_default_body_limit_is_enforced(as_user, responder, settings):
    limit = settings.KEEL_MAX_BODY_BYTES
    response = as_user(responder).post(
        BASE, {"title": "x", "severity": "SEV3", "summary": "s" * (limit + 1)}, format="json"
    )
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_bad_content_length_is_400(as_user, responder):
    response = as_user(responder).generic(
        "POST", BASE, b"{}", content_type="application/json", CONTENT_LENGTH="abc"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


@pytest.mark.parametrize(
    ("method", "path", "raw", "field"),
    [
        ("POST", "{id}/stage/", b'{"stage": "\\ud800"}', "stage"),
        ("PATCH", "{id}/", b'{"detection_source": "\\ud800"}', "detection_source"),
        ("PATCH", "{id}/", b'{"failure_patterns": ["\\udfff"]}', "failure_patterns"),
        ("POST", "", b'{"title": "x", "severity": "\\ud800"}', "severity"),
        ("POST", "{id}/roles/", b'{"role": "\\ud800", "user": "\\ud800"}', "role"),
        ("POST", "{id}/timeline/", b'{"text": "a\\ud800b"}', "text"),
    ],
)
def test_lone_surrogates_echoed_in_errors_are_400_not_500(
    as_user, incident, responder, method, path, raw, field
):
    # JSON may escape a lone surrogate; the message echoing it must still encode.
    response = as_user(responder).generic(
        method, BASE + path.format(id=incident.pk), raw, content_type="application/json"
    )
    body = _shape(response, 400)
    assert field in body["errors"]
