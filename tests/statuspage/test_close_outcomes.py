"""Closing as a false alarm (or duplicate, or declined) tells the internal audiences and
resolves the customers' public incident with words that fit; nothing is published when
customers were never told."""

import pytest
from django.utils import timezone

from incidents import services as incident_services
from notifications import outbox
from notifications.models import Delivery, Destination, StatusUpdate
from notifications.services import PUBLIC_CLOSING_MESSAGES
from statuspage.models import PublicIncident
from tests.statuspage.conftest import publish

pytestmark = pytest.mark.django_db


def _deliver_public(update):
    delivery = update.deliveries.get(destination__kind=Destination.Kind.STATUSPAGE)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    return outbox.delivery_attempt(delivery.pk)


def test_a_false_alarm_resolves_the_public_incident(incident, responder, components):
    publish(incident, responder, public_title="Checkout errors", components={"api": "major_outage"})
    incident_services.incident_close(
        incident=incident, actor=responder, outcome="false_alarm", note="Synthetic check bug."
    )
    public_update = StatusUpdate.objects.filter(incident=incident).latest("created_at")
    assert public_update.public_status == "resolved"
    assert public_update.message == PUBLIC_CLOSING_MESSAGES["false_alarm"]
    _deliver_public(public_update)
    public = PublicIncident.objects.get(incident=incident)
    assert public.status == "resolved"
    assert public.updates.latest("created_at").body == PUBLIC_CLOSING_MESSAGES["false_alarm"]
    components["api"].refresh_from_db()
    assert components["api"].status == "operational"
    # The internal audiences heard the closing through the routed automatic update.
    stage_update = StatusUpdate.objects.filter(incident=incident, kind="stage").latest("created_at")
    assert stage_update.message == "Closed as a false alarm: Synthetic check bug."
    assert "public" not in {a.slug for a in stage_update.audiences.all()}


def test_the_responder_may_word_the_public_message(incident, responder, components):
    publish(incident, responder, public_title="Checkout errors")
    incident_services.incident_close(
        incident=incident,
        actor=responder,
        outcome="duplicate",
        duplicate_of=incident_services.incident_declare(
            title="Payments", severity=incident.severity, actor=responder
        ),
        note="Same outage",
        public_message="Updates continue under “Payments degraded”.",
    )
    update = StatusUpdate.objects.filter(incident=incident, public_status="resolved").get()
    assert update.message == "Updates continue under “Payments degraded”."


def test_nothing_is_published_when_customers_were_never_told(incident, responder, components):
    incident_services.incident_close(
        incident=incident, actor=responder, outcome="declined", note="Expected behaviour."
    )
    assert not StatusUpdate.objects.filter(incident=incident).exclude(public_status="").exists()
    assert not PublicIncident.objects.filter(incident=incident).exists()


def test_an_already_resolved_public_incident_is_left_alone(incident, responder, components):
    publish(incident, responder, public_title="Checkout errors")
    publish(incident, responder, "Fixed.", public_status="resolved")
    incident_services.incident_close(
        incident=incident, actor=responder, outcome="false_alarm", note="It was nothing."
    )
    assert StatusUpdate.objects.filter(incident=incident, public_status="resolved").count() == 1
