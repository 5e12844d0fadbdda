"""Publishing through the outbox: a public status update becomes a public incident."""

import pytest
from django.utils import timezone

from notifications import outbox
from notifications import services as notification_services
from notifications.models import Delivery, Destination
from statuspage.models import ComponentStatusChange, PublicIncident
from tests.statuspage.conftest import publish

pytestmark = pytest.mark.django_db
Status = Delivery.Status


def test_the_public_audience_publishes_to_the_status_page_out_of_the_box():
    assert Destination.objects.filter(audience__slug="public", kind="statuspage").count() == 1


def test_a_public_update_creates_the_public_incident(
    incident, responder, components, no_broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _update, delivery, result = publish(
            incident,
            responder,
            public_title="Payments failing",
            components={"api": "partial_outage", "dashboard": "degraded_performance"},
        )

    assert result.status == Status.SENT
    public = PublicIncident.objects.get(incident=incident)
    assert public.name == "Payments failing"
    assert public.status == "investigating"
    assert public.impact == "major"
    assert len(public.public_id) == 12
    assert delivery.external_id == public.updates.get().public_id
    (published,) = public.updates.all()
    assert published.body == "We are investigating."
    assert {c["code"] for c in published.affected_components} == {
        components["api"].public_id,
        components["dashboard"].public_id,
    }
    components["api"].refresh_from_db()
    assert components["api"].status == "partial_outage"
    assert ComponentStatusChange.objects.filter(public_incident=public).count() == 2
    # The snapshot publish was enqueued on commit, stamped with the request time.
    assert any(len(call) == 1 and "T" in call[0] for call in no_broker)
    assert public.history.count() >= 1


def test_resolving_returns_affected_components_to_operational(incident, responder, components):
    publish(incident, responder, public_title="API down", components={"api": "major_outage"})
    publish(incident, responder, "Monitoring the fix.", public_status="monitoring")
    _, _, result = publish(incident, responder, "All good.", public_status="resolved")

    assert result.status == Status.SENT
    public = PublicIncident.objects.get(incident=incident)
    assert public.status == "resolved" and public.resolved_at and public.monitoring_at
    assert public.impact == "critical"
    components["api"].refresh_from_db()
    assert components["api"].status == "operational"
    assert public.updates.count() == 3


def test_unknown_component_is_refused_before_anything_is_written(incident, responder, components):
    from statuspage.validation import UnknownComponents

    with pytest.raises(UnknownComponents) as refused:
        publish(incident, responder, public_title="x", components={"checkout-db": "major_outage"})
    assert refused.value.field == "components"
    assert "Unknown status page component(s): checkout-db" in refused.value.message
    assert not PublicIncident.objects.exists()
    assert not Delivery.objects.filter(update__kind="manual").exists()


def test_publishing_is_idempotent_per_update(incident, responder, components):
    _, delivery, _ = publish(incident, responder, public_title="API slow")
    Delivery.objects.filter(pk=delivery.pk).update(status=Status.PENDING)
    assert outbox.delivery_attempt(delivery.pk).status == Status.SENT
    assert PublicIncident.objects.get(incident=incident).updates.count() == 1


def test_updates_publish_in_order(incident, responder, components):
    first = notification_services.update_post(
        incident=incident,
        message="Investigating.",
        actor=responder,
        audiences=["public"],
        public_status="investigating",
        public_title="API slow",
    )
    second = notification_services.update_post(
        incident=incident,
        message="Fixed.",
        actor=responder,
        audiences=["public"],
        public_status="resolved",
    )
    first_delivery, second_delivery = (
        u.deliveries.get(destination__kind="statuspage") for u in (first, second)
    )
    Delivery.objects.update(next_attempt_at=timezone.now())
    assert outbox.delivery_attempt(second_delivery.pk).status == Status.FAILED
    assert outbox.delivery_attempt(first_delivery.pk).status == Status.SENT
    Delivery.objects.update(next_attempt_at=timezone.now())
    assert outbox.delivery_attempt(second_delivery.pk).status == Status.SENT
    assert PublicIncident.objects.get().status == "resolved"
