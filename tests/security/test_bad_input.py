"""Bad input on every write: a 4xx naming the field, nothing stored, never a 500.

The API writes are generated from the OpenAPI schema (a new endpoint is covered
without touching this file; a new path parameter fails until ``_fill`` knows
it), the HTML forms by crawling every page the URL resolver serves and posting
each ``<form method=post>`` found there. Each case poisons one field with one
kind of bad value; the database's row counts (every table of Keel's apps,
history tables included) are compared before and after.

Run on PostgreSQL: it is the database that refuses NUL and lone surrogates.
Set ``KEEL_BAD_INPUT_REPORT=path.md`` to write the table of cases, counts and outcomes.
"""

import json
import os
import re
import uuid
from collections import Counter
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from incidents import services as incident_services
from incidents.intake.models import AlertGroup
from incidents.models import Incident
from postmortems import services as postmortem_services
from tests.factories.incidents import ServiceFactory, UserFactory, severity
from tests.factories.postmortems import started_postmortem
from tests.factories.statuspage import ComponentFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres_only")]

NUL = "bad\x00value"
SURROGATE = "bad\ud800value"
CRLF = "Subject line\r\nBcc: victim@example.com"
CONTROL = "bell\x07ring"
EXTREME_DATETIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"]
# Dates Python and PostgreSQL can hold: accepted or refused, never a 500.
EDGE_DATES = ["0001-01-01", "9999-12-31"]
DEEP = "[" * 1000 + "]" * 1000  # 2 KB

# Fields that are one line wherever they appear (the API and the forms).
SINGLE_LINE = {"title", "public_title", "chosen", "affected_features", "name", "options"}
# Alert senders that cannot fix their payload: a bad part is recorded and cut or
# skipped, the rest processed, never a 4xx that drops the outage (docs/alerts.md).
LENIENT = {"/api/v1/integrations/alertmanager/", "/api/v1/integrations/grafana/"}
# Machine senders whose payload is cleaned rather than refused (incidents/intake/body.py).
CLEANING = LENIENT | {"/api/v1/integrations/webhook/"}

OUTCOMES: Counter = Counter()

# ---- the database, counted ------------------------------------------------------

APPS = {"incidents", "notifications", "postmortems", "statuspage", "common"}


def row_counts() -> dict:
    tables = sorted(
        model._meta.db_table
        for model in apps.get_models()
        if model._meta.app_label in APPS and model._meta.managed and not model._meta.proxy
    )
    sql = " UNION ALL ".join(
        f"SELECT '{table}', COUNT(*) FROM {connection.ops.quote_name(table)}" for table in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(cursor.fetchall())


def changed(before: dict, after: dict) -> dict:
    return {name: (count, after[name]) for name, count in before.items() if after[name] != count}


# ---- the world the writes act on -------------------------------------------------


@pytest.fixture
def world(admin_user, as_user):
    responder = UserFactory(username="bea", role="responder")
    ServiceFactory(slug="api")
    ComponentFactory(slug="checkout")
    incident = incident_services.incident_declare(
        title="Checkout errors", severity=severity("SEV3"), actor=admin_user
    )
    note = incident_services.note_add(incident=incident, text="Graphs look odd.", actor=admin_user)
    postmortem = started_postmortem(actor=admin_user)
    item = postmortem_services.action_item_create(
        postmortem=postmortem, actor=admin_user, data={"title": "Add a canary"}
    )
    return {
        "admin": admin_user,
        "responder": responder,
        "api": as_user(admin_user),
        "incident": incident,
        "note": note,
        "postmortem": postmortem,
        "item": item,
    }


# ---- the API, from its schema ----------------------------------------------------


def _schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    if "allOf" in node and len(node["allOf"]) == 1:
        return _resolve(schema, node["allOf"][0])
    return node


def write_operations() -> list[tuple[str, str, dict]]:
    """(method, path template, {property: schema}) for every API write."""
    schema = _schema()
    operations = []
    for path, item in sorted(schema["paths"].items()):
        for method, operation in sorted(item.items()):
            if method not in ("post", "put", "patch", "delete"):
                continue
            content = operation.get("requestBody", {}).get("content", {})
            body = content.get("application/json", {}).get("schema")
            properties = _resolve(schema, body).get("properties", {}) if body else {}
            properties = {name: _resolve(schema, prop) for name, prop in properties.items()}
            operations.append((method, path, properties))
    return operations


def _fill(path: str, world) -> str:
    """The path with its parameters filled from the world; a new parameter fails here."""
    path = path.replace("{delivery_id}", str(uuid.uuid4()))
    path = path.replace("{event_id}", str(world["note"].pk))
    if path.startswith("/api/v1/incidents/"):
        path = path.replace("{id}", str(world["incident"].pk))
    elif path.startswith("/api/v1/postmortems/"):
        path = path.replace("{id}", str(world["postmortem"].pk))
    elif path.startswith("/api/v1/action-items/"):
        path = path.replace("{id}", str(world["item"].pk))
    assert "{" not in path, f"bad-input suite: teach _fill the parameters of {path}"
    return path


def _base_body(path: str, world) -> dict:
    """A valid body, so the poisoned field is what stops the write."""
    if path == "/api/v1/incidents/":
        return {"title": "Declared", "severity": "SEV4"}
    if path in LENIENT:
        return alertmanager_payload()
    if path == "/api/v1/integrations/webhook/":
        return {"key": "checkout-5xx", "title": "Checkout 5xx"}
    if path == "/api/v1/action-items/":
        return {"postmortem": world["postmortem"].pk, "title": "Write a runbook"}
    if path.endswith("/evidence/"):
        return {"metric": "p99", "threshold": 1, "series": [["2026-03-01T00:00:00Z", 0.1]]}
    if path.endswith("/decisions/"):
        return {"options": ["Roll back", "Wait"], "chosen": "Roll back", "rationale": "Known good."}
    if path.endswith("/updates/"):
        return {"message": "Rolled back.", "audiences": ["responders"]}
    if path.endswith(("/timeline/", "/timeline/{event_id}/")):
        return {"text": "Looked at the graphs."}
    return {}


def alertmanager_payload(**overrides) -> dict:
    alert = {
        "status": "firing",
        "labels": {"alertname": "HighErrorRate", "service": "api"},
        "annotations": {"summary": "Errors above 5%"},
        "fingerprint": "abc123",
    }
    payload = {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "status": "firing",
        "receiver": "keel",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate", "service": "api"},
        "commonAnnotations": {"summary": "Errors above 5%"},
        "alerts": [alert],
    }
    payload.update(overrides)
    return payload


def _bad_values(name: str, prop: dict) -> list[tuple[str, object]]:
    """(case, value) pairs that must each be refused in property ``name``."""
    kind, fmt = prop.get("type"), prop.get("format")
    if kind == "string" and fmt == "date-time":
        return [("NUL", NUL), ("wrong type", {"a": 1}), ("impossible date", "2024-02-30T25:00")]
    if kind == "string" and fmt == "date":
        return [("impossible date", "2024-02-30"), ("NUL", NUL), ("wrong type", [1])]
    if kind == "array":
        return [("NUL", [NUL]), ("lone surrogate", [SURROGATE]), ("wrong type", {"a": 1})]
    if kind == "object":
        return [
            ("NUL", {"k": NUL}),
            ("NUL", {NUL: "v"}),
            ("lone surrogate", {"k": SURROGATE}),
            ("wrong type", [1, 2]),
        ]
    if kind in ("integer", "number"):
        return [("NUL", NUL), ("wrong type", [1]), ("wrong type", {"a": 1})]
    if kind == "boolean":
        return [("wrong type", {"a": 1}), ("wrong type", [True])]
    cases = [
        ("NUL", NUL),
        ("lone surrogate", SURROGATE),
        ("wrong type", {"a": 1}),
        ("wrong type", ["a", "b"]),
    ]
    if name in SINGLE_LINE:
        cases += [("CR/LF in a single-line field", CRLF), ("control character", CONTROL)]
    return cases


def _named(body: dict, name: str) -> bool:
    errors = body.get("errors") or {}
    return name in errors or any(key.startswith(f"{name}.") for key in errors)


def _post_json(client, method: str, url: str, raw: str):
    return client.generic(
        method.upper(), url, raw.encode("utf-8", "surrogatepass"), content_type="application/json"
    )


def _json_text(body) -> str:
    # json.dumps escapes NUL and lone surrogates as \u0000 / \ud800, as a client would.
    return json.dumps(body)


# An alert sender's refused notification is still logged on its source (created on the
# first notification), for whoever debugs the sender: the only rows a refusal writes.
INTAKE_LOG_TABLES = {"incidents_alertpayload", "incidents_alertsource"}


def _refusal_problem(
    response, before: dict, *, field: str | None, logged: bool = False
) -> str | None:
    """Why ``response`` is not a clean refusal (4xx, the error shape, the field named,
    no row written but, for ``logged`` intake, its payload log), or None."""
    if not 400 <= response.status_code < 500:
        return f"status {response.status_code}: {response.content[:200]!r}"
    body = response.json()
    if not {"detail", "code", "errors"} <= set(body):
        return f"error body {body}"
    if field is not None and not _named(body, field):
        return f"the field is not named: {body}"
    rows = changed(before, row_counts())
    if logged:
        rows = {table: counts for table, counts in rows.items() if table not in INTAKE_LOG_TABLES}
    if rows:
        return f"rows written: {rows}"
    return None


def _assert_refused(
    response, before: dict, *, field: str | None, case: str, where: str, logged: bool = False
):
    problem = _refusal_problem(response, before, field=field, logged=logged)
    assert problem is None, (where, case, problem)


@pytest.mark.parametrize(
    "method,path,properties", write_operations(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_api_write_refuses_bad_input(world, method, path, properties):
    client = world["api"]
    url = _fill(path, world)
    where = f"{method.upper()} {path}"
    problems = []

    # Deep JSON and a body that is not an object, on every write with a body.
    if properties:
        for case, raw in [("deep JSON", DEEP), ("not an object", '["a"]')]:
            before = row_counts()
            response = _post_json(client, method, url, raw)
            _assert_refused(
                response, before, field=None, case=case, where=where, logged=path in CLEANING
            )
            OUTCOMES[(case, "4xx, nothing stored")] += 1
    else:
        response = _post_json(client, method, url, DEEP)
        assert response.status_code < 500, (where, response.content[:300])
        OUTCOMES[("deep JSON to a write without a body", f"{response.status_code // 100}xx")] += 1

    for name, prop in properties.items():
        for case, value in _bad_values(name, prop):
            body = {**_base_body(path, world), name: value}
            before = row_counts()
            response = _post_json(client, method, url, _json_text(body))
            if path in LENIENT:
                assert response.status_code < 500, (where, name, case, response.content[:300])
                OUTCOMES[(f"{case} (alert sender: recorded, rest processed)", "no 5xx")] += 1
                continue
            if path in CLEANING and case in ("NUL", "lone surrogate"):
                assert response.status_code < 500, (where, name, case, response.content[:300])
                OUTCOMES[(f"{case} (machine sender: cleaned)", "no 5xx, nothing unstorable")] += 1
                continue
            problem = _refusal_problem(response, before, field=name, logged=path in CLEANING)
            if problem:
                problems.append((name, case, repr(value)[:40], problem))
            else:
                OUTCOMES[(case, "4xx naming the field, nothing stored")] += 1
        if prop.get("format") in ("date", "date-time"):
            edges = EXTREME_DATETIMES if prop["format"] == "date-time" else EDGE_DATES
            for value in edges:
                response = _post_json(
                    client, method, url, _json_text({**_base_body(path, world), name: value})
                )
                if response.status_code >= 500:
                    problems.append((name, "edge date", value, response.status_code))
                else:
                    OUTCOMES[("edge date (year 0001/9999)", "no 5xx")] += 1
    assert problems == [], (where, problems)


# ---- the specific cases of the review ---------------------------------------------


def test_json_nested_1000_deep_is_a_400_on_any_endpoint_before_parsing(world):
    before = row_counts()
    response = _post_json(world["api"], "post", "/api/v1/incidents/", DEEP)
    assert response.status_code == 400
    assert response.json()["code"] == "json_too_deep"
    assert "32" in response.json()["detail"]
    assert changed(before, row_counts()) == {}


def test_the_depth_limit_is_a_setting(world, settings):
    settings.KEEL_MAX_JSON_DEPTH = 2
    body = {"title": "Deep", "severity": "SEV4", "services": [["api"]]}  # depth 3
    response = _post_json(world["api"], "post", "/api/v1/incidents/", json.dumps(body))
    assert response.status_code == 400 and response.json()["code"] == "json_too_deep"
    settings.KEEL_MAX_JSON_DEPTH = 3
    response = _post_json(world["api"], "post", "/api/v1/incidents/", json.dumps(body))
    assert response.status_code == 400 and "services" in response.json()["errors"]


def test_brackets_inside_strings_do_not_count_as_depth(world):
    body = {"title": "[" * 500 + "{" * 100, "severity": "SEV4"}
    response = _post_json(world["api"], "post", "/api/v1/incidents/", json.dumps(body))
    assert response.status_code == 400  # too long a title, not too deep
    assert "title" in response.json()["errors"]
    body = {"title": "[[[ {{{ ]]", "severity": "SEV4"}
    response = _post_json(world["api"], "post", "/api/v1/incidents/", json.dumps(body))
    assert response.status_code == 201
    assert Incident.objects.filter(title="[[[ {{{ ]]").exists()


def test_nan_and_infinity_are_not_json(world):
    before = row_counts()
    raw = '{"title": "x", "severity": "SEV4", "affected_users_count": NaN}'
    response = _post_json(world["api"], "post", "/api/v1/incidents/", raw)
    assert response.status_code == 400
    assert changed(before, row_counts()) == {}


def test_a_title_with_a_line_break_is_refused_by_the_api_naming_the_field(world):
    before = row_counts()
    response = world["api"].post(
        "/api/v1/incidents/", {"title": CRLF, "severity": "SEV4"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["title"] == [
        "This field cannot contain a carriage return (it is a single line)."
    ]
    assert changed(before, row_counts()) == {}


def test_multi_line_fields_keep_their_line_breaks(world):
    response = world["api"].post(
        "/api/v1/incidents/",
        {"title": "Two lines", "severity": "SEV4", "summary": "one\r\ntwo\n\tthree"},
        format="json",
    )
    assert response.status_code == 201
    assert Incident.objects.get(pk=response.json()["id"]).summary == "one\r\ntwo\n\tthree"


def test_a_patch_with_a_line_break_in_the_title_changes_nothing(world):
    incident = world["incident"]
    history = incident.history.count()
    response = world["api"].patch(
        f"/api/v1/incidents/{incident.pk}/", {"title": "a\nb"}, format="json"
    )
    assert response.status_code == 400 and "title" in response.json()["errors"]
    incident.refresh_from_db()
    assert incident.title == "Checkout errors"
    assert incident.history.count() == history


def test_alertmanager_multi_line_summary_becomes_a_one_line_title(world):
    payload = alertmanager_payload(
        commonAnnotations={"summary": "Errors above 5%\non checkout\r\n", "description": "a\x00b"}
    )
    response = world["api"].post("/api/v1/integrations/alertmanager/", payload, format="json")
    assert response.status_code == 200, response.content
    incident = Incident.objects.get(pk=response.json()["incident"])
    assert incident.title == "HighErrorRate: Errors above 5% on checkout"
    assert incident.summary == "ab"


def test_alertmanager_label_key_with_nul_is_cleaned_not_a_500(world):
    payload = alertmanager_payload(groupKey="nul-key")
    payload["alerts"][0]["labels"] = {"alert\x00name": "x\ud800", "service": "api"}
    response = world["api"].generic(
        "POST",
        "/api/v1/integrations/alertmanager/",
        json.dumps(payload).encode(),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    group = AlertGroup.objects.get(group_key="nul-key")
    note = group.incident.events.filter(text__startswith="via Alertmanager").get()
    assert "alertname=x\ufffd" in note.text and "\x00" not in note.text


def test_query_string_nul_is_a_400_naming_the_parameter(world):
    for url in ("/api/v1/incidents/?search=%00", "/api/v1/action-items/?owner=a%00"):
        response = world["api"].get(url)
        assert response.status_code == 400, url
        assert response.json()["code"] == "invalid_characters"
        assert len(response.json()["errors"]) == 1
    client = Client()
    client.force_login(world["admin"])
    response = client.get("/incidents/?q=%00")
    assert response.status_code == 400
    assert "'q'" in response.content.decode()


def test_anonymous_subscribe_with_nul_is_a_400_and_stores_nothing(db):
    from statuspage.subscriber_models import Subscriber

    before = row_counts()
    for body in (
        {"kind": "email", "email": "a\x00@example.com"},
        {"kind": "email", "email": "a@example.com", "components": "\x00"},
        {"kind": "webhook\x00", "endpoint": "https://example.com/hook"},
    ):
        response = Client().post("/status/subscriptions/", body)
        assert response.status_code == 400, body
    assert Subscriber.objects.count() == 0
    assert changed(before, row_counts()) == {}
    assert mail.outbox == []


def test_a_nul_in_a_url_path_is_a_400(db):
    response = Client().get("/status/subscriptions/confirm/abc%00def/")
    assert response.status_code == 400


def test_a_chunked_body_is_read_not_silently_empty(world):
    raw = json.dumps({"title": "Sent chunked", "severity": "SEV4"}).encode()
    token = world["api"]._credentials["HTTP_AUTHORIZATION"]
    environ = _chunked_environ(raw, terminated=True)
    response = Client().generic(
        "POST",
        "/api/v1/incidents/",
        b"",
        content_type="application/json",
        HTTP_AUTHORIZATION=token,
        **environ,
    )
    assert response.status_code == 201, response.content
    assert Incident.objects.filter(title="Sent chunked").exists()


def test_a_chunked_body_the_server_cannot_bound_is_a_411(world):
    raw = json.dumps({"title": "Sent chunked", "severity": "SEV4"}).encode()
    token = world["api"]._credentials["HTTP_AUTHORIZATION"]
    before = row_counts()
    response = Client().generic(
        "POST",
        "/api/v1/incidents/",
        b"",
        content_type="application/json",
        HTTP_AUTHORIZATION=token,
        **_chunked_environ(raw, terminated=False),
    )
    assert response.status_code == 411
    assert response.json()["code"] == "length_required"
    assert changed(before, row_counts()) == {}


def test_a_chunked_body_over_the_cap_is_a_413(world, settings):
    settings.KEEL_MAX_BODY_BYTES = 1000
    raw = json.dumps({"title": "x", "summary": "y" * 2000, "severity": "SEV4"}).encode()
    token = world["api"]._credentials["HTTP_AUTHORIZATION"]
    before = row_counts()
    response = Client().generic(
        "POST",
        "/api/v1/incidents/",
        b"",
        content_type="application/json",
        HTTP_AUTHORIZATION=token,
        **_chunked_environ(raw, terminated=True),
    )
    assert response.status_code == 413
    assert changed(before, row_counts()) == {}


def _chunked_environ(raw: bytes, *, terminated: bool) -> dict:
    """What a WSGI server hands over for ``Transfer-Encoding: chunked``: no
    Content-Length, the de-chunked body on ``wsgi.input``."""
    import io

    environ = {
        "CONTENT_LENGTH": "",
        "CONTENT_TYPE": "application/json",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(raw),
    }
    if terminated:
        environ["wsgi.input_terminated"] = True
    return environ


def test_slack_timestamp_of_400_digits_is_a_clean_refusal(db, settings):
    settings.SLACK_SIGNING_SECRET = "s3cret"
    for timestamp in ("9" * 400, "1" * 5000, "-5", "\uff11\uff12\uff13"):
        response = Client().post(
            "/integrations/slack/commands/",
            "command=%2Fincident&text=help",
            content_type="application/x-www-form-urlencoded",
            HTTP_X_SLACK_REQUEST_TIMESTAMP=timestamp,
            HTTP_X_SLACK_SIGNATURE="v0=" + "0" * 64,
        )
        assert 400 <= response.status_code < 500, (timestamp[:10], response.status_code)


def test_slack_interaction_payload_is_depth_guarded(db, settings):
    from notifications.slack import inbound

    settings.SLACK_SIGNING_SECRET = "s3cret"
    for payload in (DEEP, '{"type": "block_actions", "user": {"id": "\\u0000"}}'):
        body = urlencode({"payload": payload}).encode()
        response = Client().post(
            "/integrations/slack/interactions/",
            body,
            content_type="application/x-www-form-urlencoded",
            **_slack_headers(inbound, body),
        )
        assert response.status_code == 400, response.content


def _slack_headers(inbound, body: bytes) -> dict:
    import time

    timestamp = str(int(time.time()))
    return {
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": timestamp,
        "HTTP_X_SLACK_SIGNATURE": inbound.sign(secret="s3cret", timestamp=timestamp, body=body),
    }


SECTION_CASES = [
    ("NUL", "summary", {"text": NUL}),
    ("lone surrogate", "summary", {"text": SURROGATE}),
    ("control character", "summary", {"text": CONTROL}),
    ("extreme date", "log_window", {"start": "0001-01-01T00:00:00+14:00"}),
    ("extreme date", "log_window", {"start": "9999-12-31T23:59:59-12:00"}),
    ("extreme date", "action_items", {"rows": [{"title": "x", "due_date": "0001-01-01"}]}),
    ("extreme date", "action_items", {"rows": [{"title": "x", "due_date": "2024-02-30"}]}),
    ("unhashable value", "root_cause", {"failure_patterns": [["cascading"]]}),
    ("unhashable value", "root_cause", {"failure_patterns": [{"a": 1}]}),
    ("unhashable value", "middleware", {"rows": [{"name": "redis", "trend": ["up"]}]}),
    ("wrong type", "summary", {"text": {"a": 1}}),
    ("deep JSON", "metrics", {"rows": [{"name": "p99", "series": DEEP}]}),
]


@pytest.mark.parametrize("case,key,content", SECTION_CASES, ids=[c[0] for c in SECTION_CASES])
def test_postmortem_sections_refuse_bad_content(world, case, key, content):
    postmortem = world["postmortem"]
    postmortem.refresh_from_db()
    before = row_counts()
    response = world["api"].generic(
        "PATCH",
        f"/api/v1/postmortems/{postmortem.pk}/",
        json.dumps({"version": postmortem.version, "sections": {key: content}}).encode(),
        content_type="application/json",
    )
    _assert_refused(response, before, field=None, case=case, where=key)
    errors = response.json()["errors"]
    # The path at fault: the parser names the top-level field, the section its path.
    assert any(name.startswith((key, "sections")) for name in errors), errors
    OUTCOMES[(f"postmortem section: {case}", "4xx naming the field, nothing stored")] += 1


def test_email_with_a_line_break_in_the_subject_is_sent_on_one_line(db, settings):
    from notifications.channels import email

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    result = email.send(
        recipients=["cs@example.com"],
        subject="[SEV2] #4 Checkout\r\nBcc: victim@example.com — detect",
        body="Body",
        delivery_id="d1",
    )
    assert result.outcome == "sent"
    assert mail.outbox[0].subject == "[SEV2] #4 Checkout Bcc: victim@example.com — detect"
    assert mail.outbox[0].bcc == []


def test_an_unsendable_email_is_a_permanent_failure_that_leaves_the_breaker_closed(world, settings):
    """One bad row (a legacy title with CR/LF, an address Django refuses) dies alone;
    the breaker shared by every incident's email stays closed."""
    from notifications import outbox
    from notifications.channels import email
    from notifications.models import CircuitBreaker, Delivery
    from tests.factories.notifications import DestinationFactory, audience

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    bad = email.send(
        recipients=["cs@example.com\r\nBcc: victim@example.com"],
        subject="ok",
        body="Body",
        delivery_id="d2",
    )
    assert bad.outcome == "permanent" and "Unsendable" in bad.error

    destination = DestinationFactory(
        kind="email", target="cs@example.com", audience=audience("cs"), name="CS list"
    )
    incident = world["incident"]
    # A title stored before validation existed, with the line break that used to kill email.
    Incident.objects.filter(pk=incident.pk).update(title="Legacy\r\ntitle")
    from notifications import services as notification_services

    for _ in range(outbox.BREAKER_THRESHOLD + 1):
        notification_services.update_post(
            incident=incident, message="Still looking.", audiences=["cs"], actor=world["admin"]
        )
    deliveries = list(Delivery.objects.filter(destination=destination))
    assert deliveries
    for delivery in deliveries:
        outbox.delivery_attempt(delivery.pk)
    statuses = Delivery.objects.filter(destination=destination).values_list("status", flat=True)
    assert set(statuses) == {"sent"}
    assert all("\n" not in message.subject for message in mail.outbox)
    assert outbox.breaker_open_until(destination.pk) is None
    breaker = CircuitBreaker.objects.filter(key=outbox.destination_breaker_key(destination)).first()
    assert breaker is None or breaker.consecutive_failures == 0


ADMIN_SERVICE_ONLY = [
    "incidents/alertgroup",
    "postmortems/review",
    "notifications/delivery",
    "statuspage/subscribernotification",
]


def test_admin_add_pages_work_or_do_not_exist(world):
    from django.contrib import admin

    client = Client()
    client.force_login(world["admin"])
    for model in admin.site._registry:
        label = f"{model._meta.app_label}/{model._meta.model_name}"
        url = f"/admin/{label}/add/"
        response = client.get(url)
        assert response.status_code < 500, (url, response.status_code)
        if label in ADMIN_SERVICE_ONLY:
            assert response.status_code == 403, url
            continue
        if response.status_code == 200:
            before = row_counts()
            response = client.post(url, {"name": NUL, "title": CRLF})
            assert response.status_code < 500, (url, response.status_code)
            if response.status_code == 200:  # the form again, with its errors
                assert changed(before, row_counts()) == {}, url
            OUTCOMES[("admin add page, bad input", f"{response.status_code}")] += 1


def test_admin_forms_refuse_a_line_break_in_a_single_line_field(world):
    from incidents.models import Service

    client = Client()
    client.force_login(world["admin"])
    response = client.post(
        "/admin/incidents/service/add/",
        {"name": "Pay\r\nments", "slug": "payments", "tier": 2},
    )
    assert response.status_code == 200
    assert "single line" in response.content.decode()
    assert not Service.objects.filter(slug="payments").exists()


# ---- HTML forms, found by crawling every page --------------------------------------


class _Forms(HTMLParser):
    """Every ``<form method=post>`` of a page: its action and the fields it sends."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._form = None
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self._form = {"action": attrs.get("action") or "", "fields": {}, "text": set()}
            self.forms.append(self._form)
        if self._form is None or not attrs.get("name"):
            return
        name = attrs["name"]
        if tag == "input":
            kind = (attrs.get("type") or "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            if kind in ("submit", "button", "file"):
                return
            self._form["fields"].setdefault(name, attrs.get("value") or "")
            if kind in ("text", "email", "url", "search", "hidden", "datetime-local", "date"):
                self._form["text"].add(name)
        elif tag == "textarea":
            self._textarea = name
            self._form["fields"].setdefault(name, "")
            self._form["text"].add(name)
        elif tag == "select":
            self._select = name
        unset = self._select and self._select not in self._form["fields"]
        if tag == "option" and self._select and (unset or "selected" in attrs):
            self._form["fields"][self._select] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._form is not None and self._textarea:
            self._form["fields"][self._textarea] += data


def _page_urls(world) -> list[str]:
    """Every GET page the resolver serves outside the API and the admin, filled in."""
    values = {
        "pk": world["incident"].pk,
        "incident_pk": world["incident"].pk,
        "key": "summary",
        "token": "x",
        "path": "",
    }
    urls = []

    def walk(patterns, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                urls.append(route)

    walk(get_resolver().url_patterns, "/")
    pages = set()
    for route in urls:
        # The API and Slack have their own cases; health endpoints are not pages (a 503
        # from /readyz is an answer, not a crash).
        if route.startswith(("/api/", "/admin/", "/integrations/", "/^", "/readyz", "/healthz")):
            continue
        filled = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values.get(m.group(1), "")), route)
        pages.add(filled)
    pages |= {f"/postmortems/{world['postmortem'].pk}/", "/status/subscriptions/"}
    return sorted(pages)


def _all_forms(client, world) -> list[dict]:
    seen, forms = set(), []
    for url in _page_urls(world):
        response = client.get(url)
        assert response.status_code < 500, url
        if "html" not in response.get("Content-Type", ""):
            continue
        parser = _Forms()
        parser.feed(response.content.decode())
        for form in parser.forms:
            action = form["action"] or url
            signature = (action, tuple(sorted(form["fields"])))
            if action.startswith(("/logout", "/admin")) or signature in seen:
                continue
            seen.add(signature)
            forms.append({**form, "action": action})
    return forms


def test_every_html_form_refuses_bad_input_and_stores_nothing(world):
    client = Client()
    client.force_login(world["admin"])
    forms = _all_forms(client, world)
    assert len(forms) >= 10, [f["action"] for f in forms]  # the crawl found the forms
    for form in forms:
        for name in sorted(form["text"]):
            if name == "csrfmiddlewaretoken":
                continue
            cases = [("NUL", NUL)]
            if name in SINGLE_LINE:
                cases += [("CR/LF in a single-line field", CRLF), ("control character", CONTROL)]
            for case, value in cases:
                before = row_counts()
                data = {**form["fields"], name: value}
                response = client.post(form["action"], data)
                where = (form["action"], name, case)
                assert response.status_code < 500, where
                after = row_counts()
                # Refused: a 4xx, or (workflow buttons) a redirect back with the error.
                assert response.status_code >= 400 or response.status_code == 302, where
                assert changed(before, after) == {}, where
                OUTCOMES[(f"HTML form: {case}", f"{response.status_code}, nothing stored")] += 1


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    path = os.environ.get("KEEL_BAD_INPUT_REPORT")
    if not path or not OUTCOMES:
        return
    lines = ["| case | count | outcome |", "| --- | ---: | --- |"]
    for (case, outcome), count in sorted(OUTCOMES.items()):
        lines.append(f"| {case} | {count} | {outcome} |")
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def test_permanent_failures_of_rows_never_count_against_the_destination(world):
    """The outbox's classification: a message that can never be sent kills its row only."""
    from notifications import engine, outbox
    from notifications import services as notification_services
    from notifications.channels.base import Outcome, SendResult
    from notifications.models import CircuitBreaker, Delivery
    from tests.factories.notifications import DestinationFactory, audience

    destination = DestinationFactory(
        kind="email", target="cs@example.com", audience=audience("cs"), name="CS list"
    )
    for _ in range(outbox.BREAKER_THRESHOLD + 2):
        notification_services.update_post(
            incident=world["incident"], message="Update.", audiences=["cs"], actor=world["admin"]
        )
    deliveries = list(Delivery.objects.filter(destination=destination))
    assert len(deliveries) > outbox.BREAKER_THRESHOLD
    for delivery in deliveries:
        result = SendResult(Outcome.PERMANENT, error="Unsendable message: header with CR/LF")
        assert (
            engine.apply_outcome(outbox.DELIVERIES, delivery, result).status == Delivery.Status.DEAD
        )
    assert not CircuitBreaker.objects.filter(
        key=outbox.destination_breaker_key(destination)
    ).exists()
    assert outbox.breaker_open_until(destination.pk) is None
    # A transient failure is the destination's, and does count.
    engine.apply_outcome(outbox.DELIVERIES, deliveries[0], SendResult.retry("Connection refused"))
    breaker = CircuitBreaker.objects.get(key=outbox.destination_breaker_key(destination))
    assert breaker.consecutive_failures == 1
