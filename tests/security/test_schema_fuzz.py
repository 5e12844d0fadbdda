"""Schemathesis over the whole OpenAPI schema, per role: zero 5xx.

``tests/common/test_fuzz_api.py`` fuzzes the incident endpoints with hand-made
strategies (plausible slugs, NUL, surrogates, huge numbers); this one lets
schemathesis derive valid and invalid requests from ``/api/schema/`` for every
operation, so an endpoint added later is fuzzed without an edit here. Bounded:
``KEEL_SCHEMA_FUZZ_EXAMPLES`` examples per operation, mode and role (default 3),
derandomized so a failure reproduces.

The requests go through Django's test client (not schemathesis' WSGI transport)
so they share the test's transaction and its world of rows.
"""

import json
import os
import zlib
from collections import Counter
from urllib.parse import urlencode

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from rest_framework.test import APIClient
from schemathesis import GenerationMode

from incidents import services as incident_services
from postmortems import services as postmortem_services
from tests.factories.common import api_key
from tests.factories.incidents import ServiceFactory, UserFactory, severity
from tests.factories.postmortems import started_postmortem

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("KEEL_SCHEMA_FUZZ_EXAMPLES", "3"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
STATUSES: Counter = Counter()


def _operations():
    raw = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(raw, default=str)))
    return [result.ok() for result in schema.get_all_operations()]


@pytest.fixture
def world(db):
    admin = UserFactory(username="ada", role="admin")
    responder = UserFactory(username="rita", role="responder")
    viewer = UserFactory(username="victor", role="viewer")
    ServiceFactory(slug="api")
    incident = incident_services.incident_declare(
        title="Fuzzed", severity=severity("SEV3"), actor=responder
    )
    postmortem = started_postmortem(actor=admin)
    item = postmortem_services.action_item_create(
        postmortem=postmortem, actor=admin, data={"title": "Add a canary"}
    )
    return {
        "users": {"viewer": viewer, "responder": responder, "admin": admin},
        "ids": {"incidents": incident.pk, "postmortems": postmortem.pk, "action-items": item.pk},
    }


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key(user)}")
    return client


def _send(client: APIClient, case, ids: dict, use_real_ids: bool):
    path = case.path
    parameters = dict(case.path_parameters or {})
    if use_real_ids and "id" in parameters:
        resource = path.split("/")[3]  # /api/v1/<resource>/{id}/...
        parameters["id"] = ids.get(resource, parameters["id"])
    for name, value in parameters.items():
        path = path.replace("{" + name + "}", str(value))
    query = case.query if isinstance(case.query, dict) else {}
    body = case.body
    has_body = body is not None and type(body).__name__ != "NotSet"
    if has_body and (case.media_type or "application/json") == "application/json":
        data, content_type = json.dumps(body, default=str), "application/json"
    elif has_body:
        data, content_type = body if isinstance(body, bytes | str) else str(body), case.media_type
    else:
        data, content_type = "", "application/json"
    if query:
        path = f"{path}?{urlencode(query, doseq=True)}"
    return client.generic(case.method.upper(), path, data, content_type=content_type)


def _fuzz(client, operation, mode, ids: dict, role: str, failures: list) -> None:
    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        # Half the cases address the world's real rows, so bodies reach validation.
        use_real_ids = zlib.crc32(repr(case.body).encode()) % 2 == 0
        response = _send(client, case, ids, use_real_ids)
        STATUSES[(role, response.status_code // 100)] += 1
        if response.status_code >= 500:
            failures.append((operation.method, operation.path, mode.value, response.status_code))

    run()


@pytest.mark.parametrize("role", ["viewer", "responder", "admin"])
def test_schemathesis_finds_no_5xx_for_any_role(world, role):
    client = _client(world["users"][role])
    failures = []
    for operation in _operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(client, operation, mode, world["ids"], role, failures)
    assert failures == [], failures[:10]
    assert STATUSES[(role, 2)] + STATUSES[(role, 4)] > 0
