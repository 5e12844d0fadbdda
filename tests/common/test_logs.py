"""Structured logs: request, user and incident ids on every line of a request, the id
returned to the caller and carried into tasks, secrets masked (markers)."""

import io
import json
import logging

import pytest

from common import logs
from incidents import services
from tests.factories.incidents import severity

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_lines():
    """Lines written through the configured filters and formatter, as dicts."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.ContextFilter())
    handler.addFilter(logs.SecretsFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


@pytest.fixture
def incident(responder):
    return services.incident_declare(title="Checkout 502s", severity=severity(), actor=responder)


def test_a_request_logs_its_id_user_and_incident_and_returns_the_id(
    client, responder, incident, json_lines
):
    client.force_login(responder)
    response = client.post(
        f"/incidents/{incident.pk}/stage/",
        {"move-stage": "detect"},
        headers={"X-Request-ID": "req-4711"},
    )
    assert response.status_code == 409
    assert response["X-Request-ID"] == "req-4711"
    (line,) = [line for line in json_lines() if line["logger"] == "django.request"]
    assert line["request_id"] == "req-4711"
    assert line["user"] == "rita"
    assert line["incident_id"] == incident.pk
    assert line["level"] == "WARNING"


@pytest.mark.parametrize("sent", [None, "has spaces", "x" * 65, "semi;colon"])
def test_a_missing_or_odd_request_id_is_replaced_by_a_fresh_one(client, sent):
    headers = {"X-Request-ID": sent} if sent else {}
    returned = client.get("/healthz", headers=headers)["X-Request-ID"]
    assert returned != sent and len(returned) == 32 and int(returned, 16) >= 0


def test_the_context_ends_with_the_request(client, json_lines):
    client.get("/healthz", headers={"X-Request-ID": "req-done"})
    logging.getLogger("keel.test").warning("after the request")
    (line,) = json_lines()
    assert "request_id" not in line


def test_secrets_never_reach_a_log_line(json_lines):
    logger = logging.getLogger("keel.test")
    logger.warning(
        "calling with Authorization: Bearer %s and %s, password=%s",
        "MARKER-bearer-123",
        "xoxb-MARKER-slack-456",
        "MARKER-hunter2",
    )
    logger.warning("headers {'Authorization': 'Token MARKER-token-789'} secret: MARKER-s3")
    try:
        raise ValueError("token=MARKER-in-traceback")
    except ValueError:
        logger.exception("failed")
    text = json.dumps(json_lines())
    assert "MARKER" not in text
    assert "[redacted]" in text


def test_tasks_carry_the_request_id_of_the_request_that_enqueued_them():
    headers = {}
    with logs.bound(request_id="req-42"):
        logs.task_publish_carries_request_id(headers=headers)
    assert headers == {logs.TASK_HEADER: "req-42"}

    class Request:
        keel_request_id = "req-42"

    class Task:
        request = Request()

    logs.task_binds_context(task_id="task-1", task=Task())
    assert logs.current() == {"task_id": "task-1", "request_id": "req-42"}
    logs.task_clears_context(task_id="task-1")
    assert logs.current() == {}


def test_the_text_format_appends_the_ids():
    record = logging.LogRecord("keel", logging.INFO, __file__, 1, "sent", None, None)
    with logs.bound(request_id="req-7", delivery_id="d-1"):
        logs.ContextFilter().filter(record)
    assert logs.TextFormatter().format(record).endswith("sent [request_id=req-7 delivery_id=d-1]")
