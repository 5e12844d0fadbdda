import pytest
from django.utils import timezone

from incidents import services as incident_services
from notifications import outbox
from notifications import services as notification_services
from notifications.models import Delivery, Destination
from tests.factories.incidents import ServiceFactory, severity
from tests.factories.statuspage import ComponentFactory, ComponentGroupFactory


@pytest.fixture(autouse=True)
def snapshot_dir(tmp_path, settings):
    settings.STATUSPAGE_SNAPSHOT_DIR = tmp_path / "snapshot"
    return settings.STATUSPAGE_SNAPSHOT_DIR


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """Enqueued tasks are recorded, not sent: tests run them explicitly."""
    from notifications import tasks as notification_tasks
    from statuspage import tasks

    calls = []
    for task in (
        tasks.statuspage_publish_snapshot_task,
        tasks.subscriber_notification_send_task,
        tasks.subscriber_notifications_send_batch_task,
        notification_tasks.delivery_send_task,
    ):
        # Every publish goes through common.enqueue, i.e. apply_async.
        monkeypatch.setattr(task, "apply_async", lambda args=(), **k: calls.append(tuple(args)))
    return calls


@pytest.fixture
def components(db):
    group = ComponentGroupFactory(name="Platform", position=1)
    return {
        "api": ComponentFactory(slug="api", name="API", group=group, position=1),
        "dashboard": ComponentFactory(slug="dashboard", name="Dashboard", group=group, position=2),
        "email": ComponentFactory(slug="email", name="Email delivery", position=3),
    }


@pytest.fixture
def incident(responder):
    return incident_services.incident_declare(
        title="Checkout 502s",
        severity=severity("SEV2"),
        services=[ServiceFactory(slug="checkout")],
        actor=responder,
    )


def publish(incident, actor, message="We are investigating.", **kwargs):
    """Post a public update and run its status page delivery now."""
    kwargs.setdefault("public_status", "investigating")
    update = notification_services.update_post(
        incident=incident, message=message, actor=actor, audiences=["public"], **kwargs
    )
    delivery = update.deliveries.get(destination__kind=Destination.Kind.STATUSPAGE)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    result = outbox.delivery_attempt(delivery.pk)
    delivery.refresh_from_db()
    return update, delivery, result
