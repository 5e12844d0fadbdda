"""Behind is visible: the heartbeat, and the incident page's banner and
Communications tab when updates wait for a worker."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents import services as incident_services
from notifications import services
from notifications.models import Delivery, WorkerHeartbeat
from tests.factories.incidents import severity
from tests.factories.notifications import DestinationFactory, audience

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(responder):
    incident = incident_services.incident_declare(
        title="Checkout 502s", severity=severity("SEV3"), actor=responder
    )
    DestinationFactory(audience=audience("responders"), name="Ops hook")
    return incident


def _post_waiting(incident, responder, n: int, *, seconds: int) -> None:
    for number in range(n):
        update = services.update_post(
            incident=incident,
            message=f"Update {number}.",
            audiences=["responders"],
            actor=responder,
        )
        Delivery.objects.filter(update=update).update(
            created_at=timezone.now() - timedelta(seconds=seconds)
        )


def test_the_heartbeat_is_one_row_per_worker_and_forgets_old_hosts():
    now = timezone.now()
    services.worker_heartbeat_record(hostname="celery@old", at=now - timedelta(days=2))
    services.worker_heartbeat_record(hostname="celery@a", at=now - timedelta(seconds=5))
    services.worker_heartbeat_record(hostname="celery@a", at=now)

    assert list(WorkerHeartbeat.objects.values_list("hostname", "seen_at")) == [("celery@a", now)]


def test_the_banner_says_how_many_updates_wait_and_that_no_worker_was_seen(
    client, responder, incident
):
    services.worker_heartbeat_record(
        hostname="celery@a", at=timezone.now() - timedelta(minutes=2, seconds=5)
    )
    _post_waiting(incident, responder, 3, seconds=130)
    client.force_login(responder)

    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()

    assert "3 updates waiting 2m 1" in page
    assert "no worker has been seen for 2m 0" in page


def test_the_banner_says_the_workers_are_behind_when_one_is_alive(client, responder, incident):
    services.worker_heartbeat_record(hostname="celery@a")
    _post_waiting(incident, responder, 1, seconds=45)
    client.force_login(responder)

    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()

    assert "1 update waiting 4" in page and "the workers are behind" in page


def test_no_banner_while_deliveries_leave_as_usual(client, responder, incident):
    _post_waiting(incident, responder, 1, seconds=2)
    client.force_login(responder)

    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()

    assert "data-waiting" not in page


def test_the_communications_tab_shows_each_deliverys_waiting_time(client, responder, incident):
    _post_waiting(incident, responder, 1, seconds=75)
    client.force_login(responder)

    page = client.get(reverse("communications:page", args=[incident.pk])).content.decode()

    assert "waiting 1m 1" in page
