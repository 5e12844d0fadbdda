"""Fuzz every API write with arbitrary JSON and every list with arbitrary query
params, as a responder: whatever comes in, the answer is never a 5xx.

Bounded (max_examples per endpoint) so the suite stays fast.
"""

import json
from io import StringIO
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents import services
from tests.factories.incidents import ChangeFactory, ServiceFactory, UserFactory, severity

pytestmark = pytest.mark.django_db
FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)

PLAUSIBLE = st.sampled_from(
    [
        "SEV1",
        "sev4",
        "SEV9",
        "judge",
        "recover",
        "retrospect",
        "detect",
        "closed",
        "rita",
        "bea",
        "api",
        "web",
        "commander",
        "responder",
        "scribe",
        "cascading",
        "monitoring",
        "technical.network",
        "2024-01-01T00:00:00Z",
        "2999-01-01T00:00:00Z",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-12:00",
        "NaN",
        "Infinity",
        "-0",
        "1e400",
        "99999999999999999999",
        "100.001",
        "",
        " ",
        "\x00",
        "\ud800",
        "#1",
    ]
)
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)
TEXT = st.one_of(
    st.text(max_size=30),
    st.text(min_size=190, max_size=260),
    st.just("x" * 10_001),
    st.just("é" * 300_000),  # past the body limit: 413, not a crash
    PLAUSIBLE,
)
SCALAR = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON = st.recursive(
    SCALAR,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.dictionaries(st.text(max_size=8), children, max_size=5),
    ),
    max_leaves=12,
)


def body_for(fields):
    keys = st.one_of(st.sampled_from(fields), st.text(max_size=12))
    values = st.one_of(JSON, st.lists(PLAUSIBLE, max_size=25), PLAUSIBLE)
    return st.one_of(
        st.dictionaries(keys, values, max_size=len(fields) + 2),
        JSON,  # not even an object
    )


DECLARE = [
    "title",
    "summary",
    "severity",
    "services",
    "started_at",
    "detected_at",
    "detection_source",
    "private",
    "commander",
]
PATCH = [
    "title",
    "summary",
    "severity",
    "private",
    "started_at",
    "detection_source",
    "detected_before_customers",
    "affected_users_count",
    "affected_users_percent",
    "services",
    "affected_features",
    "estimated_loss",
    "compensation",
    "sla_minutes_breached",
    "category",
    "failure_patterns",
    "preceding_change",
    "stage",
]
ENDPOINTS = {
    "declare": ("post", "", DECLARE),
    "patch": ("patch", "{id}/", PATCH),
    "stage": ("post", "{id}/stage/", ["stage", "note"]),
    "close": ("post", "{id}/close/", ["note"]),
    "note": ("post", "{id}/timeline/", ["text"]),
    "decision": ("post", "{id}/decisions/", ["options", "chosen", "rationale", "information"]),
    "role": ("post", "{id}/roles/", ["role", "user"]),
}


@pytest.fixture
def world(responder, as_user):
    UserFactory(username="bea", role="responder")
    ServiceFactory(slug="api")
    ServiceFactory(slug="web")
    ChangeFactory()
    incident = services.incident_declare(title="Fuzzed", severity=severity("SEV4"), actor=responder)
    return {"client": as_user(responder), "incident": incident}


def _encode(body) -> bytes:
    # json.dumps writes NaN/Infinity and escapes lone surrogates; the parser must cope.
    return json.dumps(body).encode()


def _assert_no_5xx(response, detail):
    assert response.status_code < 500, (detail, response.content[:500])
    if response.status_code >= 400:
        body = response.json()
        assert {"detail", "code"} <= set(body), body


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_writes_never_5xx(world, endpoint):
    method, path, fields = ENDPOINTS[endpoint]
    client, incident = world["client"], world["incident"]

    @FUZZ
    @given(
        body=body_for(fields),
        key=st.one_of(
            st.none(),
            st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=300),
        ),
    )
    def run(body, key):
        url = "/api/v1/incidents/" + path.format(id=incident.pk)
        extra = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
        response = client.generic(
            method.upper(), url, _encode(body), content_type="application/json", **extra
        )
        _assert_no_5xx(response, body)

    run()


def url_text(max_size):
    # A URL carries UTF-8; a lone surrogate cannot even be sent.
    return st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=max_size)


def _encodable(text: str) -> bool:
    return "\ud800" not in text


LIST_PARAMS = ["stage", "severity", "service", "open", "search", "page", "page_size"]


def test_list_query_params_never_5xx(world):
    client = world["client"]

    @FUZZ
    @given(
        params=st.dictionaries(
            st.one_of(st.sampled_from(LIST_PARAMS), url_text(max_size=8)),
            st.one_of(url_text(max_size=40), PLAUSIBLE.filter(_encodable), NUMBERS.map(str)),
            max_size=5,
        )
    )
    def run(params):
        for path in ("", f"{world['incident'].pk}/timeline/"):
            response = client.get(f"/api/v1/incidents/{path}?{urlencode(params)}")
            _assert_no_5xx(response, params)

    run()


def test_ids_in_paths_never_5xx(world):
    client = world["client"]

    @FUZZ
    @given(pk=st.one_of(st.integers(min_value=0, max_value=2**80), st.just(2**63)))
    def run(pk):
        for path in ("", "timeline/", "decisions/", "history/"):
            _assert_no_5xx(client.get(f"/api/v1/incidents/{pk}/{path}"), pk)
        _assert_no_5xx(
            client.post(f"/api/v1/incidents/{pk}/stage/", {"stage": "judge"}, format="json"), pk
        )

    run()


def test_the_openapi_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yml"
    stderr = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out), stderr=stderr)
    assert out.read_text().startswith("openapi: 3")
    assert "Warning" not in stderr.getvalue() and "Error" not in stderr.getvalue()


def test_the_schema_is_served_and_names_the_contract(world):
    response = world["client"].get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    paths = set(schema["paths"])
    for path in [
        "/api/v1/incidents/",
        "/api/v1/incidents/{id}/",
        "/api/v1/incidents/{id}/stage/",
        "/api/v1/incidents/{id}/close/",
        "/api/v1/incidents/{id}/timeline/",
        "/api/v1/incidents/{id}/decisions/",
        "/api/v1/incidents/{id}/roles/",
        "/api/v1/incidents/{id}/history/",
    ]:
        assert path in paths, sorted(paths)
    post = schema["paths"]["/api/v1/incidents/"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
