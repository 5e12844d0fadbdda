"""The response-conformance check catches drift, and the schema says what the API does.

The plugin (tests/api_conformance/plugin.py) checks every API response of the suite;
these tests prove it fails on what drift looks like — an undocumented status, a
missing, extra or mistyped field, an undocumented content type — both on its own
and wired into the suite's API client.
"""

import json

import pytest
from rest_framework.response import Response

from incidents import apis as incident_apis
from incidents import services
from incidents.models import TimelineEvent
from incidents.serializers import IncidentOutput
from tests.api_conformance.plugin import conformance
from tests.api_conformance.schema_check import SchemaDrift
from tests.factories.incidents import severity

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/v1/incidents/",
    "/api/v1/incidents/{id}/timeline/",
    "/api/v1/postmortems/",
    "/api/v1/action-items/",
]


def _declare(actor, title="Checkout 500s"):
    return services.incident_declare(
        title=title, severity=severity("SEV2"), actor=actor, source=TimelineEvent.Source.API
    )


def _check(status=200, body=None, *, path="/api/v1/incidents/", content_type="application/json"):
    conformance().check(
        method="GET",
        path=path,
        status=status,
        content_type=content_type,
        body=json.dumps(body).encode() if body is not None else b"",
    )


@pytest.fixture
def incident_page(as_user, responder):
    _declare(responder)
    response = as_user(responder).get("/api/v1/incidents/")  # checked by the plugin
    assert response.status_code == 200
    return response.json()


def test_a_real_page_conforms(incident_page):
    _check(body=incident_page)
    assert set(incident_page) == {"count", "next", "previous", "results"}


@pytest.mark.parametrize(
    ("drift", "message"),
    [
        (lambda page: page.pop("next"), "'next' is a required property"),
        (lambda page: page.update(count="1"), "'1' is not of type 'integer'"),
        (lambda page: page["results"][0].pop("title"), "'title' is a required property"),
        (lambda page: page["results"][0].update(secret=1), "'secret' was unexpected"),
        (lambda page: page["results"][0].update(stage="fixed"), "'fixed' is not one of"),
        (lambda page: page.update(results={}), "is not of type 'array'"),
    ],
    ids=[
        "missing-envelope-key",
        "mistyped",
        "missing-field",
        "undocumented-field",
        "enum",
        "shape",
    ],
)
def test_a_drifted_body_is_caught(incident_page, drift, message):
    drift(incident_page)
    with pytest.raises(SchemaDrift, match="v1_incidents_list") as caught:
        _check(body=incident_page)
    assert message in str(caught.value)


def test_an_undocumented_status_or_content_type_is_caught():
    with pytest.raises(SchemaDrift, match="status 418 is not documented"):
        _check(418, {"detail": "teapot", "code": "teapot", "errors": {}})
    with pytest.raises(SchemaDrift, match="'text/html' is not documented"):
        _check(200, content_type="text/html")
    # DRF authenticates before it finds no handler: 401/403/405 with the error body pass.
    refused = json.dumps(
        {"detail": 'Method "DELETE" not allowed.', "code": "method_not_allowed", "errors": {}}
    ).encode()
    conformance().check(
        method="DELETE",
        path="/api/v1/incidents/1/",
        status=405,
        content_type="application/json",
        body=refused,
    )
    with pytest.raises(SchemaDrift, match="an undocumented method"):
        conformance().check(
            method="DELETE",
            path="/api/v1/incidents/1/",
            status=403,
            content_type="application/json",
            body=b'{"detail": "No."}',
        )
    with pytest.raises(SchemaDrift, match="documents no DELETE"):
        conformance().check(
            method="DELETE",
            path="/api/v1/incidents/1/",
            status=204,
            content_type="",
            body=b"",
        )


def test_an_error_body_must_be_the_error_component():
    _check(
        404,
        {"detail": "Not found.", "code": "not_found", "errors": {}},
        path="/api/v1/incidents/1/",
    )
    with pytest.raises(SchemaDrift, match="'code' is a required property"):
        _check(404, {"detail": "Not found."}, path="/api/v1/incidents/1/")
    with pytest.raises(SchemaDrift, match="'why' was unexpected"):
        _check(
            404,
            {"detail": "x", "code": "not_found", "errors": {}, "why": 1},
            path="/api/v1/incidents/1/",
        )


def test_the_suite_client_fails_on_a_view_that_drifts(as_user, responder, monkeypatch):
    incident = _declare(responder)
    client = as_user(responder)
    original = IncidentOutput.to_representation

    def without_title(self, instance):
        data = original(self, instance)
        data.pop("title")
        return data

    monkeypatch.setattr(IncidentOutput, "to_representation", without_title)
    with pytest.raises(SchemaDrift, match=r"(?s)GET /api/v1/incidents/\d+/ → 200.*'title'"):
        client.get(f"/api/v1/incidents/{incident.pk}/")

    monkeypatch.setattr(
        incident_apis.IncidentDetailApi, "get", lambda self, request, pk: Response(status=418)
    )
    with pytest.raises(SchemaDrift, match="status 418 is not documented"):
        client.get(f"/api/v1/incidents/{incident.pk}/")


def test_paths_outside_the_schema_are_not_checked(as_user, responder):
    _check(500, {"anything": True}, path="/api/v2/summary.json")
    _check(500, {"anything": True}, path="/incidents/")


# What the schema says ---------------------------------------------------------------


def test_every_error_response_refers_to_the_one_error_component():
    document = conformance().document
    error = document["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"detail", "code", "errors"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "400" in responses and "503" in responses, (method, path)
            for status, response in responses.items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)


def test_idempotent_operations_document_the_422_and_authenticated_ones_401_403():
    for path, item in conformance().document["paths"].items():
        for method, operation in item.items():
            headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            assert ("422" in operation["responses"]) == ("Idempotency-Key" in headers), path
            if operation.get("security") != [{}]:
                assert {"401", "403"} <= set(operation["responses"]), (method, path)


@pytest.mark.parametrize("path", LISTS)
def test_paginated_lists_document_the_envelope_and_the_page_parameters(path):
    document = conformance().document
    operation = document["paths"][path]["get"]
    assert {"page", "page_size"} <= {p["name"] for p in operation["parameters"]}
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    envelope = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert envelope["required"] == ["count", "next", "previous", "results"]
    assert envelope["properties"]["results"]["type"] == "array"
    assert "404" in operation["responses"]  # a page past the last one


def test_the_stage_move_documents_its_409_and_alertmanager_its_200():
    paths = conformance().document["paths"]
    assert "409" in paths["/api/v1/incidents/{id}/stage/"]["post"]["responses"]
    answer = paths["/api/v1/integrations/alertmanager/"]["post"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AlertmanagerOutput"
    }


def test_main_request_bodies_have_examples():
    paths = conformance().document["paths"]
    for path, method in [
        ("/api/v1/incidents/", "post"),
        ("/api/v1/incidents/{id}/stage/", "post"),
        ("/api/v1/incidents/{id}/updates/", "post"),
        ("/api/v1/incidents/{id}/decisions/", "post"),
        ("/api/v1/postmortems/", "post"),
        ("/api/v1/postmortems/{id}/", "patch"),
        ("/api/v1/postmortems/{id}/publish/", "post"),
        ("/api/v1/integrations/alertmanager/", "post"),
        ("/api/v1/integrations/webhook/", "post"),
    ]:
        body = paths[path][method]["requestBody"]["content"]["application/json"]
        assert body.get("examples"), (method, path)


# Generated clients import these names: renaming one breaks every integrator's build.
STABLE_ENUMS = {
    "ActionItemKindEnum",
    "ActionItemStatusEnum",
    "AlertStatusEnum",
    "AlertmanagerActionEnum",
    "CategoryEnum",
    "ChangeKindEnum",
    "DeliveryStatusEnum",
    "DetectionSourceEnum",
    "EvidenceResultEnum",
    "EvidenceStayEnum",
    "FailureEnum",
    "FailurePatternsEnum",
    "ModeEnum",
    "OutcomeEnum",
    "PostmortemStatusEnum",
    "PriorityEnum",
    "PublicImpactEnum",
    "PublicResolvedActionEnum",
    "PublicStatusEnum",
    "RoleEnum",
    "SlackChannelStatusEnum",
    "SourceEnum",
    "StageEnum",
    "TermEnum",
    "TimelineEventKindEnum",
    "UpdateKindEnum",
}


def test_enum_names_are_stable():
    names = {name for name in conformance().document["components"]["schemas"] if "Enum" in name}
    assert names >= STABLE_ENUMS, sorted(STABLE_ENUMS - names)
    # A collision makes drf-spectacular prefix the component's name (or add a hash):
    # each such enum needs its own entry in ENUM_NAME_OVERRIDES.
    assert names <= STABLE_ENUMS | {"BlankEnum", "NullEnum"}, sorted(names - STABLE_ENUMS)
