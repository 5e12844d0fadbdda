import pytest
from django.db import IntegrityError
from django.utils import timezone

from statuspage import services
from statuspage.models import ComponentStatusChange, ScheduledMaintenance, new_public_id
from tests.factories.statuspage import ComponentFactory

pytestmark = pytest.mark.django_db


def test_public_ids_look_like_statuspage_ids():
    ids = {new_public_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 12 and i.isalnum() and i == i.lower() for i in ids)


def test_component_status_changes_are_logged_with_history():
    component = ComponentFactory(slug="api")
    first = services.component_set_status(component=component, status="operational")
    change = services.component_set_status(component=component, status="major_outage")
    assert services.component_set_status(component=component, status="major_outage") is None

    assert first.previous_status == "" and first.status == "operational"
    assert (change.previous_status, change.status) == ("operational", "major_outage")
    component.refresh_from_db()
    assert component.status == "major_outage"
    assert component.history.first().history_change_reason == "status operational → major_outage"
    assert ComponentStatusChange.objects.filter(component=component).count() == 2


def test_unknown_component_status_is_refused():
    with pytest.raises(services.InvalidInput):
        services.component_set_status(component=ComponentFactory(), status="broken")


def test_maintenance_must_end_after_it_starts():
    now = timezone.now()
    with pytest.raises(IntegrityError):
        ScheduledMaintenance.objects.create(name="x", scheduled_for=now, scheduled_until=now)
