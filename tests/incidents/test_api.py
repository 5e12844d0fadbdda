"""API v1 per endpoint and per role (DESIGN.md "API contract (v1)")."""

import pytest
from django.http import HttpRequest
from rest_framework.test import APIClient

from incidents import services
from incidents.models import Decision, Incident, RoleAssignment, TimelineEvent
from tests.factories.incidents import (
    IncidentFactory,
    ServiceFactory,
    UserFactory,
    severity,
)

pytestmark = pytest.mark.django_db
BASE = "/api/v1/incidents/"


@pytest.fixture
def incident(responder):
    return services.incident_declare(
        title="Checkout 500s", severity=severity("SEV3"), actor=responder
    )


@pytest.fixture
def client_as(as_user):
    """``client_as(user, auth)``: token auth, session auth, or no auth at all."""

    def make(user, auth="token"):
        if user is None:
            return APIClient()
        if auth == "token":
            return as_user(user)
        client = APIClient()
        # django-axes needs the request that authenticate() is called for.
        assert client.login(
            request=HttpRequest(), username=user.username, password="keel-test-pass"
        )
        return client

    return make


@pytest.fixture
def users(responder, viewer, admin_user):
    return {"responder": responder, "viewer": viewer, "admin": admin_user, "anonymous": None}


def _error(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body.get("errors", {}), dict)
    if code:
        assert body["code"] == code, body
    return body


# --- reads: every signed-in role reads, the anonymous get 401 ---------------------------

READS = ["", "{id}/", "{id}/timeline/", "{id}/decisions/", "{id}/history/"]


@pytest.mark.parametrize("auth", ["token", "session"])
@pytest.mark.parametrize("role", ["responder", "viewer", "admin", "anonymous"])
@pytest.mark.parametrize("path", READS)
def test_reads_per_role(client_as, users, incident, role, auth, path):
    response = client_as(users[role], auth).get(BASE + path.format(id=incident.pk))
    if role == "anonymous":
        _error(response, 401, "not_authenticated")
        return
    assert response.status_code == 200, response.content


def test_token_auth_with_a_wrong_token_is_401(incident):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    _error(client.get(BASE), 401, "authentication_failed")
    assert client.get(BASE).headers["WWW-Authenticate"] == 'Token, Bearer realm="api"'


def test_token_of_an_inactive_user_is_401(as_user, incident):
    user = UserFactory(username="left", role="responder")
    client = as_user(user)
    user.is_active = False
    user.save()
    _error(client.get(BASE), 401)


# --- writes: responders and admins write, viewers 403, anonymous 401 --------------------


def _write(client, path, incident, other):
    pk = incident.pk
    if path == "declare":
        return client.post(BASE, {"title": "New", "severity": "SEV3"}, format="json")
    if path == "patch":
        return client.patch(f"{BASE}{pk}/", {"title": "Renamed"}, format="json")
    if path == "stage":
        return client.post(f"{BASE}{pk}/stage/", {"stage": "judge"}, format="json")
    if path == "close":
        return client.post(f"{BASE}{pk}/close/", {}, format="json")
    if path == "note":
        return client.post(f"{BASE}{pk}/timeline/", {"text": "a note"}, format="json")
    if path == "decision":
        body = {"options": ["Roll back", "Wait"], "chosen": "Roll back", "rationale": "safe"}
        return client.post(f"{BASE}{pk}/decisions/", body, format="json")
    if path == "role":
        return client.post(
            f"{BASE}{pk}/roles/", {"role": "scribe", "user": other.username}, format="json"
        )
    raise AssertionError(path)


WRITE_STATUS = {
    "declare": 201,
    "patch": 200,
    "stage": 200,
    "close": 200,
    "note": 201,
    "decision": 201,
    "role": 200,
}


@pytest.mark.parametrize("auth", ["token", "session"])
@pytest.mark.parametrize("role", ["responder", "viewer", "admin", "anonymous"])
@pytest.mark.parametrize("path", sorted(WRITE_STATUS))
def test_writes_per_role(client_as, users, responder, role, auth, path):
    incident = services.incident_declare(title="Slow", severity=severity("SEV4"), actor=responder)
    if path == "close":
        services.incident_move(incident=incident, to="retrospect", actor=responder)
    other = UserFactory(username="olga", role="responder")
    incidents, events = Incident.objects.count(), TimelineEvent.objects.count()
    response = _write(client_as(users[role], auth), path, incident, other)
    if role == "anonymous":
        _error(response, 401, "not_authenticated")
    elif role == "viewer":
        _error(response, 403, "permission_denied")
    else:
        assert response.status_code == WRITE_STATUS[path], response.content
        assert TimelineEvent.objects.count() > events
        return
    assert (Incident.objects.count(), TimelineEvent.objects.count()) == (incidents, events)


def test_session_auth_writes_need_the_csrf_token(responder):
    client = APIClient(enforce_csrf_checks=True)
    client.login(request=HttpRequest(), username=responder.username, password="keel-test-pass")
    response = client.post(BASE, {"title": "New", "severity": "SEV3"}, format="json")
    _error(response, 403)
    assert not Incident.objects.exists()


# --- list ----------------------------------------------------------------------------------


def test_list_shape_and_order(as_user, responder):
    sev3 = services.incident_declare(title="Minor", severity=severity("SEV3"), actor=responder)
    sev1 = services.incident_declare(title="Major", severity=severity("SEV1"), actor=responder)
    closed = services.incident_declare(title="Done", severity=severity("SEV4"), actor=responder)
    services.incident_move(incident=closed, to="retrospect", actor=responder)
    services.incident_close(incident=closed, actor=responder)
    body = as_user(responder).get(BASE).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    # Newest first (the order an index serves at any depth), closed or not.
    assert [row["id"] for row in body["results"]] == [closed.pk, sev1.pk, sev3.pk]
    row = body["results"][1]
    assert row["severity"] == "SEV1" and row["stage"] == "detect" and row["is_open"] is True
    assert row["commander"] == "rita"
    assert [s["stage"] for s in row["stages"]] == [
        "detect",
        "propagate",
        "judge",
        "recover",
        "analyze",
        "share",
        "retrospect",
    ]
    assert row["stages"][0]["reached_by"] == "rita"
    assert row["allowed_stages"] == [
        "propagate",
        "judge",
        "recover",
        "analyze",
        "share",
        "retrospect",
    ]
    assert set(row["durations"]) == {
        "time_to_detect_seconds",
        "time_to_propagate_seconds",
        "time_to_decide_seconds",
        "time_to_recover_seconds",
        "not_measured",
    }


@pytest.fixture
def catalogue(responder):
    api = ServiceFactory(slug="api")
    web = ServiceFactory(slug="web")
    a = services.incident_declare(
        title="API latency", severity=severity("SEV2"), actor=responder, services=[api, web]
    )
    b = services.incident_declare(
        title="Web login broken",
        summary="SSO callback fails",
        severity=severity("SEV3"),
        actor=responder,
        services=[web],
    )
    services.incident_move(incident=b, to="judge", actor=responder)
    c = services.incident_declare(title="Typo", severity=severity("SEV4"), actor=responder)
    services.incident_move(incident=c, to="retrospect", actor=responder)
    services.incident_close(incident=c, actor=responder)
    return {"a": a, "b": b, "c": c}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", "abc"),
        ("stage=judge", "b"),
        ("stage=detect", "a"),
        ("stage=retrospect", "c"),
        ("severity=SEV2", "a"),
        ("severity=sev3", "b"),
        ("severity=SEV9", ""),
        ("service=web", "ab"),
        ("service=api", "a"),
        ("service=nothing", ""),
        ("open=true", "ab"),
        ("open=false", "c"),
        ("open=1", "ab"),
        ("search=login", "b"),
        ("search=sso", "b"),
        ("search=LATENCY", "a"),
        ("search=nothing-matches", ""),
        ("service=web&stage=detect", "a"),
        ("open=true&severity=SEV3&search=web", "b"),
    ],
)
def test_list_filters(as_user, responder, catalogue, query, expected):
    body = as_user(responder).get(f"{BASE}?{query}").json()
    assert sorted(row["id"] for row in body["results"]) == sorted(
        catalogue[key].pk for key in expected
    )
    assert body["count"] == len(expected)


def test_list_search_by_number(as_user, responder, catalogue):
    pk = catalogue["b"].pk
    for query in (str(pk), f"%23{pk}"):
        ids = [
            row["id"] for row in as_user(responder).get(f"{BASE}?search={query}").json()["results"]
        ]
        assert pk in ids


@pytest.mark.parametrize(
    "query",
    [
        "search=99999999999999999999999999",
        "search=%23" + "9" * 40,
        "search=%C2%B2",  # "²" is a digit to str.isdigit() but not to int()
        "search=%D9%A3",  # Arabic-Indic three
        "search=-1",
        "search=%00",
    ],
)
def test_list_search_by_odd_numbers_never_fails(as_user, responder, catalogue, query):
    response = as_user(responder).get(f"{BASE}?{query}")
    assert response.status_code in (200, 400), response.content


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("stage=closed", "stage"),
        ("open=maybe", "open"),
        ("severity=" + "S" * 9, "severity"),
        ("service=not%20a%20slug", "service"),
        ("search=" + "x" * 201, "search"),
    ],
)
def test_list_bad_filters_are_400_naming_the_field(as_user, responder, query, field):
    body = _error(as_user(responder).get(f"{BASE}?{query}"), 400, "invalid")
    assert field in body["errors"]


def test_list_pagination(as_user, responder):
    for i in range(7):
        IncidentFactory(title=f"Incident {i}", created_by=responder)
    client = as_user(responder)
    first = client.get(f"{BASE}?page_size=3").json()
    assert first["count"] == 7 and len(first["results"]) == 3 and first["previous"] is None
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()
    assert len(third["results"]) == 1 and third["next"] is None
    ids = [r["id"] for page in (first, second, third) for r in page["results"]]
    assert len(set(ids)) == 7
    _error(client.get(f"{BASE}?page=99"), 404, "not_found")
    _error(client.get(f"{BASE}?page=abc"), 404)
    assert len(client.get(f"{BASE}?page_size=100000").json()["results"]) == 7
    assert client.get(f"{BASE}?page_size=-1").status_code == 200


# --- declare ----------------------------------------------------------------------------


def test_declare(as_user, responder):
    ServiceFactory(slug="api")
    body = {
        "title": "Checkout 500s",
        "summary": "Payments fail",
        "severity": "sev2",
        "services": ["api"],
        "started_at": "2024-01-01T10:00:00Z",
        "detected_at": "2024-01-01T10:05:00Z",
        "detection_source": "customer_report",
    }
    response = as_user(responder).post(BASE, body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["severity"] == "SEV2" and data["services"] == ["api"]
    assert data["stage"] == "detect" and data["commander"] == "rita"
    assert data["durations"]["time_to_detect_seconds"] == 300
    incident = Incident.objects.get(pk=data["id"])
    assert incident.events.get().source == TimelineEvent.Source.API
    assert incident.history.earliest("history_id").history_user == responder


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"severity": "SEV3"}, "title"),
        ({"title": "x" * 201, "severity": "SEV3"}, "title"),
        ({"title": "", "severity": "SEV3"}, "title"),
        ({"title": "x", "summary": "s" * 10_001, "severity": "SEV3"}, "summary"),
        ({"title": "x"}, "severity"),
        ({"title": "x", "severity": "SEV9"}, "severity"),
        ({"title": "x", "severity": "SEV3", "services": ["nope"]}, "services"),
        ({"title": "x", "severity": "SEV3", "services": "api"}, "services"),
        ({"title": "x", "severity": "SEV3", "detection_source": "psychic"}, "detection_source"),
        ({"title": "x", "severity": "SEV3", "started_at": "yesterday"}, "started_at"),
        ({"title": "x", "severity": "SEV3", "detected_at": "2999-01-01T00:00:00Z"}, "detected_at"),
        (
            {
                "title": "x",
                "severity": "SEV3",
                "started_at": "2024-01-02T00:00:00Z",
                "detected_at": "2024-01-01T00:00:00Z",
            },
            "started_at",
        ),
        ({"title": "x", "severity": "SEV3", "commander": "nobody"}, "commander"),
        ({"title": "x", "severity": "SEV3", "private": "perhaps"}, "private"),
        ({"title": "x\x00y", "severity": "SEV3"}, "title"),
    ],
)
def test_declare_bad_input_is_400_naming_the_field(as_user, responder, body, field):
    body = _error(as_user(responder).post(BASE, body, format="json"), 400, "invalid")
    assert field in body["errors"], body
    assert all(isinstance(m, str) for m in body["errors"][field]) or isinstance(
        body["errors"][field], dict | list
    )
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "x", "severity": "SEV\x003"}, "severity"),
        ({"title": "x", "severity": "SEV3", "services": ["a\x00"]}, "services"),
        ({"title": "x", "severity": "SEV3", "commander": "\x00"}, "commander"),
        ({"title": "x", "severity": "S" * 100_000}, "severity"),
    ],
)
def test_nul_bytes_in_lookups_are_400_not_500(as_user, responder, body, field):
    # PostgreSQL refuses a NUL in a query parameter; the fields refuse it first.
    response = as_user(responder).post(BASE, body, format="json")
    assert field in _error(response, 400, "invalid")["errors"]


def test_nul_bytes_in_role_and_patch_lookups_are_400(as_user, incident, responder):
    client = as_user(responder)
    response = client.post(
        f"{BASE}{incident.pk}/roles/", {"role": "scribe", "user": "ri\x00ta"}, format="json"
    )
    assert "user" in _error(response, 400)["errors"]
    response = client.patch(f"{BASE}{incident.pk}/", {"services": ["\x00"]}, format="json")
    assert "services" in _error(response, 400)["errors"]
    response = client.patch(f"{BASE}{incident.pk}/", {"severity": "\x00"}, format="json")
    assert "severity" in _error(response, 400)["errors"]


@pytest.mark.parametrize("query", ["severity=%00", "service=%00", "search=%00", "stage=%00"])
def test_nul_bytes_in_filters_are_400(as_user, responder, query):
    _error(as_user(responder).get(f"{BASE}?{query}"), 400)


def test_oversized_title_names_the_limit(as_user, responder):
    body = _error(
        as_user(responder).post(BASE, {"title": "x" * 201, "severity": "SEV3"}, format="json"),
        400,
    )
    assert body["errors"] == {"title": ["Ensure this field has no more than 200 characters."]}


# --- detail and PATCH --------------------------------------------------------------------


def test_detail(as_user, incident, viewer):
    data = as_user(viewer).get(f"{BASE}{incident.pk}/").json()
    assert data["id"] == incident.pk and data["title"] == "Checkout 500s"


@pytest.mark.parametrize("pk", [0, 999_999, 10**30])
def test_detail_of_a_missing_incident_is_404(as_user, responder, pk):
    for path in ("", "stage/", "close/", "timeline/", "decisions/", "roles/", "history/"):
        response = as_user(responder).get(f"{BASE}{pk}/{path}")
        assert response.status_code in (404, 405), (path, response.content)
        if response.status_code == 404:
            _error(response, 404, "not_found")


def test_patch(as_user, incident, responder):
    ServiceFactory(slug="api")
    body = {
        "title": "Checkout 502s",
        "severity": "SEV1",
        "services": ["api"],
        "category": "technical.network",
        "failure_patterns": ["cascading"],
        "affected_users_percent": "12.50",
        "estimated_loss": "1000.00",
        "detected_before_customers": True,
    }
    response = as_user(responder).patch(f"{BASE}{incident.pk}/", body, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["title"] == "Checkout 502s" and data["severity"] == "SEV1"
    assert data["services"] == ["api"] and data["failure_patterns"] == ["cascading"]
    assert data["affected_users_percent"] == "12.50"
    kinds = list(incident.events.values_list("kind", flat=True))
    assert "severity_changed" in kinds and "fields_changed" in kinds


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "x" * 201}, "title"),
        ({"title": ""}, "title"),
        ({"affected_users_percent": "100.01"}, "affected_users_percent"),
        ({"affected_users_count": -1}, "affected_users_count"),
        ({"estimated_loss": "NaN"}, "estimated_loss"),
        ({"failure_patterns": ["gremlins"]}, "failure_patterns"),
        ({"category": "bad"}, "category"),
        ({"preceding_change": 12345}, "preceding_change"),
        ({"started_at": "2999-01-01T00:00:00Z"}, "started_at"),
        ({"severity": None}, "severity"),
    ],
)
def test_patch_bad_input_is_400_naming_the_field(as_user, incident, responder, body, field):
    response = as_user(responder).patch(f"{BASE}{incident.pk}/", body, format="json")
    assert field in _error(response, 400)["errors"]


def test_patch_ignores_the_stage(as_user, incident, responder):
    # Only the stage endpoint moves the stage; PATCH cannot (unknown keys are ignored).
    response = as_user(responder).patch(
        f"{BASE}{incident.pk}/", {"stage": "retrospect"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["stage"] == "detect"


# --- stage and close ---------------------------------------------------------------------


def test_stage_move_and_skip(as_user, incident, responder):
    client = as_user(responder)
    response = client.post(
        f"{BASE}{incident.pk}/stage/", {"stage": "recover", "note": "rolled back"}, format="json"
    )
    assert response.status_code == 200
    data = response.json()
    assert data["stage"] == "recover" and data["recovered_at"]
    assert data["allowed_stages"] == ["judge", "analyze", "share", "retrospect"]
    timeline = client.get(f"{BASE}{incident.pk}/timeline/").json()["results"]
    assert timeline[-1]["kind"] == "stage_skipped"
    assert timeline[-1]["data"]["skipped"] == ["propagate", "judge"]
    assert timeline[-1]["source"] == "api"

    reopened = client.post(f"{BASE}{incident.pk}/stage/", {"stage": "judge"}, format="json").json()
    assert reopened["stage"] == "judge" and reopened["reopened_count"] == 1
    assert reopened["recovered_at"] is None


@pytest.mark.parametrize("target", ["detect", "propagate"])
def test_illegal_stage_move_is_409_with_the_reason(as_user, incident, responder, target):
    client = as_user(responder)
    client.post(f"{BASE}{incident.pk}/stage/", {"stage": "recover"}, format="json")
    body = _error(
        client.post(f"{BASE}{incident.pk}/stage/", {"stage": target}, format="json"),
        409,
        "illegal_stage_move",
    )
    assert f"Cannot move back from recover to {target}" in body["detail"]
    assert "reopen" in body["detail"]


def test_stage_move_to_the_same_stage_is_409(as_user, incident, responder):
    body = _error(
        as_user(responder).post(f"{BASE}{incident.pk}/stage/", {"stage": "detect"}, format="json"),
        409,
    )
    assert "already in detect" in body["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "stage"),
        ({"stage": "closed"}, "stage"),
        ({"stage": "judge", "note": "n" * 10_001}, "note"),
    ],
)
def test_stage_bad_input_is_400(as_user, incident, responder, body, field):
    response = as_user(responder).post(f"{BASE}{incident.pk}/stage/", body, format="json")
    assert field in _error(response, 400, "invalid")["errors"]


def test_close(as_user, responder):
    incident = services.incident_declare(title="Slow", severity=severity("SEV4"), actor=responder)
    client = as_user(responder)
    early = _error(
        client.post(f"{BASE}{incident.pk}/close/", {}, format="json"), 409, "cannot_close"
    )
    assert "retrospect" in early["detail"] and early["blockers"]
    client.post(f"{BASE}{incident.pk}/stage/", {"stage": "retrospect"}, format="json")
    response = client.post(f"{BASE}{incident.pk}/close/", {"note": "retro held"}, format="json")
    assert response.status_code == 200
    data = response.json()
    assert data["closed_at"] and data["is_open"] is False and data["allowed_stages"] == []
    again = _error(
        client.post(f"{BASE}{incident.pk}/stage/", {"stage": "retrospect"}, format="json"), 409
    )
    assert "closed" in again["detail"]


def test_close_sev2_without_postmortem_is_409(as_user, responder):
    incident = services.incident_declare(title="Down", severity=severity("SEV2"), actor=responder)
    services.incident_move(incident=incident, to="retrospect", actor=responder)
    body = _error(
        as_user(responder).post(f"{BASE}{incident.pk}/close/", {}, format="json"),
        409,
        "cannot_close",
    )
    assert "SEV2 requires a published postmortem" in body["detail"]


# --- timeline, decisions, roles ---------------------------------------------------------


def test_timeline_oldest_first_and_notes(as_user, incident, responder):
    client = as_user(responder)
    client.post(f"{BASE}{incident.pk}/stage/", {"stage": "propagate"}, format="json")
    note = client.post(f"{BASE}{incident.pk}/timeline/", {"text": "CS told"}, format="json")
    assert note.status_code == 201
    assert note.json()["kind"] == "note" and note.json()["actor"] == "rita"
    body = client.get(f"{BASE}{incident.pk}/timeline/").json()
    assert [e["kind"] for e in body["results"]] == ["declared", "stage_moved", "note"]
    times = [e["occurred_at"] for e in body["results"]]
    assert times == sorted(times)


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "   "}, {"text": "t" * 10_001}])
def test_timeline_bad_note_is_400(as_user, incident, responder, body):
    response = as_user(responder).post(f"{BASE}{incident.pk}/timeline/", body, format="json")
    assert "text" in _error(response, 400)["errors"]


def test_decisions(as_user, incident, responder, viewer):
    body = {
        "options": ["Roll back", "Fix forward"],
        "chosen": "Roll back",
        "rationale": "Known-good",
        "information": "30% errors",
    }
    created = as_user(responder).post(f"{BASE}{incident.pk}/decisions/", body, format="json")
    assert created.status_code == 201
    assert created.json()["decided_by"] == "rita"
    listed = as_user(viewer).get(f"{BASE}{incident.pk}/decisions/").json()
    assert [d["chosen"] for d in listed] == ["Roll back"]
    assert Decision.objects.get().history.get().history_user == responder


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"options": [], "chosen": "a", "rationale": "r"}, "options"),
        ({"options": "a", "chosen": "a", "rationale": "r"}, "options"),
        ({"options": ["a"] * 21, "chosen": "a", "rationale": "r"}, "options"),
        ({"options": ["a"], "chosen": "b", "rationale": "r"}, "chosen"),
        ({"options": ["a"], "chosen": "a"}, "rationale"),
        ({"options": ["a"], "chosen": "a", "rationale": "r" * 10_001}, "rationale"),
    ],
)
def test_decisions_bad_input_is_400(as_user, incident, responder, body, field):
    response = as_user(responder).post(f"{BASE}{incident.pk}/decisions/", body, format="json")
    assert field in _error(response, 400)["errors"]


def test_roles_hand_off(as_user, incident, responder):
    bea = UserFactory(username="bea", role="responder")
    cal = UserFactory(username="cal", role="viewer")
    client = as_user(responder)
    data = client.post(
        f"{BASE}{incident.pk}/roles/", {"role": "commander", "user": "bea"}, format="json"
    ).json()
    assert data["commander"] == "bea"
    data = client.post(
        f"{BASE}{incident.pk}/roles/", {"role": "responder", "user": "cal"}, format="json"
    ).json()
    assert data["responders"] == ["cal"]
    ended, current = RoleAssignment.objects.filter(incident=incident, role="commander")
    assert ended.user == responder and ended.ended_at is not None
    assert current.user == bea and current.ended_at is None
    assert cal in incident.responders.all()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "king", "user": "rita"}, "role"),
        ({"role": "scribe", "user": "nobody"}, "user"),
        ({"role": "scribe"}, "user"),
        ({"role": "scribe", "user": ["rita"]}, "user"),
    ],
)
def test_roles_bad_input_is_400(as_user, incident, responder, body, field):
    response = as_user(responder).post(f"{BASE}{incident.pk}/roles/", body, format="json")
    assert field in _error(response, 400)["errors"]


# --- methods not in the contract ----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "{id}/"),
        ("delete", "{id}/"),
        ("get", "{id}/stage/"),
        ("get", "{id}/close/"),
        ("get", "{id}/roles/"),
        ("post", "{id}/history/"),
        ("delete", ""),
    ],
)
def test_other_methods_are_405(as_user, incident, responder, method, path):
    response = getattr(as_user(responder), method)(BASE + path.format(id=incident.pk))
    _error(response, 405, "method_not_allowed")
    assert Incident.objects.filter(pk=incident.pk).exists()
