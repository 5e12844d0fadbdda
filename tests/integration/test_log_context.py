"""A real worker's log lines carry the request id of the API call that caused them."""

import json

import pytest

from incidents import services as incident_services
from notifications.models import Delivery, Destination
from tests.factories.incidents import severity
from tests.factories.notifications import DestinationFactory, audience
from tests.integration.conftest import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_the_worker_logs_the_delivery_with_the_request_id_that_caused_it(
    start_worker, fake_slack_server, responder, as_user
):
    incident = incident_services.incident_declare(
        title="Payments failing", severity=severity("SEV3"), actor=responder
    )
    DestinationFactory(audience=audience("responders"), kind=Destination.Kind.SLACK)
    worker = start_worker()

    response = as_user(responder).post(
        f"/api/v1/incidents/{incident.pk}/updates/",
        {"message": "Rolling back.", "audiences": ["responders"]},
        format="json",
        headers={"X-Request-ID": "req-trace-4711"},
    )
    assert response.status_code == 201, response.content
    assert response["X-Request-ID"] == "req-trace-4711"
    delivery = Delivery.objects.get()
    wait_for(
        lambda: Delivery.objects.get().status == Delivery.Status.SENT, what="the Slack delivery"
    )

    lines = [
        line for line in json_lines(worker.log()) if line.get("delivery_id") == str(delivery.pk)
    ]
    assert lines, worker.log()[-2000:]
    assert {line["request_id"] for line in lines} == {"req-trace-4711"}
    assert all(line.get("task_id") for line in lines)
    assert "xoxb-test-token" not in worker.log()
