"""Every webhook event Keel sends carries ``type`` and ``version`` and validates
against its published schema (docs/events/); the files are what the code says;
the OpenAPI document lists them under ``webhooks``; the enums follow the models."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from jsonschema import Draft202012Validator

from common import webhook_contracts as contracts
from incidents import services as incident_services
from incidents.lifecycle import Stage
from notifications import outbox
from notifications import services as notification_services
from notifications.models import (
    UPDATE_PUBLIC_STATUSES,
    Delivery,
    Destination,
    PublicImpact,
    PublicStatus,
    UpdateKind,
)
from statuspage import maintenance as maintenance_services
from statuspage import subscriptions
from statuspage.models import ComponentStatus, MaintenanceStatus
from statuspage.subscriber_models import Subscriber, SubscriberNotification
from statuspage.subscriber_outbox import notification_attempt
from tests.factories.incidents import ServiceFactory, UserFactory, severity
from tests.factories.notifications import DestinationFactory, audience
from tests.fakes.event_contracts import contract_errors
from tests.fakes.webhooks import WebhookReceiver
from tests.statuspage.conftest import publish
from workspace import services as workspace_services
from workspace.destination_test_sends import destination_test_send_attempt

pytestmark = pytest.mark.django_db


def test_the_published_files_are_what_the_code_says():
    files = sorted(path.name for path in contracts.DOCS_DIR.glob("*.json"))
    assert files == sorted(f"{event}.json" for event in contracts.VERSIONS)
    for event, schema in contracts.schemas().items():
        published = json.loads((contracts.DOCS_DIR / f"{event}.json").read_text())
        assert published == schema, f"regenerate: python -m common.webhook_contracts ({event})"
        Draft202012Validator.check_schema(published)


def test_the_enums_follow_the_models():
    assert Stage.values == contracts.STAGES
    assert [s.value for s in UPDATE_PUBLIC_STATUSES] == contracts.PUBLIC_STATUSES
    assert ComponentStatus.values == contracts.COMPONENT_STATUSES
    assert PublicImpact.values == contracts.IMPACTS
    assert PublicStatus.values == contracts.INCIDENT_STATUSES
    assert MaintenanceStatus.values == contracts.MAINTENANCE_STATUSES
    sent = {kind for kinds in contracts.TEAM_KINDS.values() for kind in kinds}
    assert sent == set(UpdateKind.values) - {UpdateKind.PERSONAL}  # personal: email only


def test_the_openapi_document_lists_every_event_under_webhooks(client):
    document = client.get("/api/schema/", {"format": "json"}).json()
    assert document["openapi"].startswith("3.1")
    assert set(document["webhooks"]) == set(contracts.VERSIONS)
    hook = document["webhooks"]["incident.stage"]["post"]
    body = hook["requestBody"]["content"]["application/json"]["schema"]
    expected = contracts.schema("incident.stage")
    expected.pop("$schema")
    assert body == expected
    assert {p["name"] for p in hook["parameters"]} == {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }


@pytest.fixture
def receiver(settings):
    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = True
    settings.KEEL_OUTBOUND_TIMEOUT_SECONDS = 2
    with WebhookReceiver(secret=Destination.new_secret()) as server:
        yield server


def _send_team_deliveries() -> None:
    for delivery in Delivery.objects.filter(
        destination__kind=Destination.Kind.WEBHOOK, status=Delivery.Status.PENDING
    ):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        assert outbox.delivery_attempt(delivery.pk).status == Delivery.Status.SENT


def _send_subscriber_notifications() -> None:
    for row in SubscriberNotification.objects.filter(status=SubscriberNotification.Status.PENDING):
        SubscriberNotification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        notification_attempt(row.pk)


def test_every_event_type_sent_for_real_validates(receiver, responder, components):
    """Drive the product through each event a receiver can get, send each for real
    to the (schema-checking) receiver, and see every type arrive."""
    for slug in ("responders", "cs", "business"):
        DestinationFactory(
            audience=audience(slug),
            kind=Destination.Kind.WEBHOOK,
            target=receiver.url,
            secret=receiver.secret,
        )
    incident = incident_services.incident_declare(
        title="Checkout 502s",
        severity=severity("SEV1"),
        services=[ServiceFactory(slug="checkout")],
        actor=responder,
    )
    incident_services.incident_update(
        incident=incident, data={"severity": severity("SEV2")}, actor=responder
    )
    incident_services.incident_move(incident=incident, to="judge", actor=responder)
    incident_services.incident_move(incident=incident, to="recover", actor=responder)
    notification_services.update_post(
        incident=incident,
        message="Fix deployed.",
        actor=responder,
        audiences=["responders", "cs"],
        next_update_at=timezone.now() + timedelta(minutes=30),
    )
    for kind in (UpdateKind.REMINDER, UpdateKind.POSTMORTEM):
        notification_services.update_post(
            incident=incident,
            message=f"A {kind}.",
            actor=responder,
            audiences=["responders"],
            kind=kind,
        )
    _send_team_deliveries()
    # Settings → Send test on a team webhook (workspace.destination_test_sends).
    test_send = workspace_services.destination_test_send(
        destination=Destination.objects.filter(kind=Destination.Kind.WEBHOOK).first(),
        actor=UserFactory(username="ada", role="admin"),
    )
    assert destination_test_send_attempt(test_send.pk).status == "sent"

    # Status-page subscribers: verification, incident, component and maintenance events.
    subscriptions.subscriber_subscribe(kind="webhook", endpoint=receiver.url)
    subscriber = Subscriber.objects.get()
    subscriber.secret = receiver.secret  # the receiver verifies with its own secret
    subscriber.confirmed_at = timezone.now()
    subscriber.save(update_fields=["secret", "confirmed_at"])
    publish(incident, responder, public_title="API errors", components={"api": "major_outage"})
    # The first status a component gets is its baseline; the next one is a change.
    publish(incident, responder, "Mitigated.", components={"api": "partial_outage"})
    maintenance_services.maintenance_schedule(
        name="Database upgrade",
        scheduled_for=timezone.now() + timedelta(hours=1),
        scheduled_until=timezone.now() + timedelta(hours=2),
        components=[components["email"]],
        body="Email may be delayed.",
        actor=responder,
    )
    _send_subscriber_notifications()

    bodies = [event["body"] for event in receiver.received]
    assert receiver.bad_signatures == 0
    assert {body["type"] for body in bodies} == set(contracts.VERSIONS)
    assert all(body["version"] == contracts.VERSIONS[body["type"]] for body in bodies)
    assert [error for body in bodies for error in contract_errors(body)] == []
    kinds = {b["data"]["update"]["kind"] for b in bodies if b["type"].startswith("incident.")}
    assert {"postmortem", "resolved", "severity"} <= kinds


def test_a_payload_that_breaks_its_contract_is_caught():
    missing = {"type": "component_update", "version": 1, "meta": {}, "page": {}}
    assert any("'component' is a required property" in e for e in contract_errors(missing))
    body = {
        "type": "endpoint.verification",
        "version": 1,
        "challenge": "c",
        "page": {"id": "p", "name": "n"},
    }
    assert contract_errors(body) == []
    assert contract_errors({**body, "version": 2})  # another version is another contract
    assert contract_errors({**body, "surprise": 1})  # an undocumented field fails here
    assert contract_errors({"no": "type"}) == ["no event type in {'no': 'type'}"]


def test_a_row_queued_before_payloads_were_typed_goes_out_typed(receiver, components):
    subscriber = Subscriber.objects.create(
        kind="webhook", endpoint=receiver.url, secret=receiver.secret, confirmed_at=timezone.now()
    )
    row = SubscriberNotification.objects.create(
        subscriber=subscriber,
        event="verify:20260101",
        subject="Endpoint verification",
        body="",
        payload={"challenge": "abc", "page": {"id": "p", "name": "n"}},
        next_attempt_at=timezone.now(),
    )
    notification_attempt(row.pk)
    (event,) = receiver.received
    assert event["body"]["type"] == "endpoint.verification" and event["body"]["version"] == 1
