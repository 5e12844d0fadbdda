"""The admin reads maintenance and sends writers to the app: every admin path that
used to write around the services (a 500 on an update's missing created_at; an
"in progress" save with no update, no message and the component left operational)
is refused, writes nothing, and names where to do it instead."""

from datetime import timedelta

import pytest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from statuspage import maintenance as services
from statuspage.models import ComponentStatusChange, MaintenanceUpdate, ScheduledMaintenance
from statuspage.subscriber_models import SubscriberNotification

pytestmark = pytest.mark.django_db


@pytest.fixture
def maintenance(components, responder):
    now = timezone.now()
    return services.maintenance_schedule(
        name="Database upgrade",
        scheduled_for=now + timedelta(hours=1),
        scheduled_until=now + timedelta(hours=2),
        components=[components["api"]],
        body="Writes pause.",
        actor=responder,
    )


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def rows(maintenance) -> dict:
    return {
        "maintenances": ScheduledMaintenance.objects.count(),
        "updates": MaintenanceUpdate.objects.count(),
        "history": maintenance.history.count(),
        "status log": ComponentStatusChange.objects.count(),
        "messages": SubscriberNotification.objects.count(),
    }


def test_the_list_links_to_scheduling_in_the_app(admin_client, maintenance):
    page = admin_client.get(reverse("admin:statuspage_scheduledmaintenance_changelist"))
    assert page.status_code == 200
    assert reverse("maintenance:schedule") in page.content.decode()


def test_the_change_page_is_read_only_and_links_to_the_app(admin_client, maintenance):
    page = admin_client.get(
        reverse("admin:statuspage_scheduledmaintenance_change", args=[maintenance.pk])
    )
    body = page.content.decode()
    assert page.status_code == 200 and "Writes pause." in body
    assert reverse("maintenance:detail", args=[maintenance.pk]) in body
    assert 'name="_save"' not in body


def test_adding_in_the_admin_is_refused(admin_client, maintenance):
    before = rows(maintenance)
    now = timezone.now()
    response = admin_client.post(
        reverse("admin:statuspage_scheduledmaintenance_add"),
        {
            "name": "Sneaky",
            "status": "in_progress",
            "scheduled_for_0": f"{now:%Y-%m-%d}",
            "scheduled_for_1": f"{now:%H:%M:%S}",
            "scheduled_until_0": f"{now + timedelta(days=1):%Y-%m-%d}",
            "scheduled_until_1": f"{now:%H:%M:%S}",
        },
    )
    assert response.status_code == 403
    assert rows(maintenance) == before


def test_saving_as_in_progress_with_an_update_in_the_admin_is_refused(
    admin_client, maintenance, components
):
    """The two reported paths: an inline update (was a 500) and status in progress
    (was silent): both are now refused before anything is written."""
    before = rows(maintenance)
    response = admin_client.post(
        reverse("admin:statuspage_scheduledmaintenance_change", args=[maintenance.pk]),
        {
            "name": maintenance.name,
            "status": "in_progress",
            "updates-TOTAL_FORMS": "2",
            "updates-INITIAL_FORMS": "1",
            "updates-1-status": "in_progress",
            "updates-1-body": "Started from the admin",
        },
    )
    assert response.status_code == 403
    assert rows(maintenance) == before
    maintenance.refresh_from_db()
    components["api"].refresh_from_db()
    assert maintenance.status == "scheduled" and components["api"].status == "operational"


def test_deleting_in_the_admin_is_refused(admin_client, maintenance):
    before = rows(maintenance)
    response = admin_client.post(
        reverse("admin:statuspage_scheduledmaintenance_delete", args=[maintenance.pk]),
        {"post": "yes"},
    )
    assert response.status_code == 403
    assert rows(maintenance) == before


def test_the_update_rows_are_not_editable_on_their_own():
    # MaintenanceUpdate has no admin of its own: only the read-only inline shows them.
    with pytest.raises(NoReverseMatch):
        reverse("admin:statuspage_maintenanceupdate_add")
