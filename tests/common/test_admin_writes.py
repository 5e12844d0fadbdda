"""The Django admin is the back office for inspection, not a second write path.

Rows that only a service writes (records, ledgers, the outbox's state) and domain
objects whose every change is a service with its timeline, audit and announcements
(incidents, maintenances, postmortems, templates) have neither an *Add* page nor a
form that saves; the domain objects link to their page in the app instead.
"""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from common.people import role_groups, role_of
from common.people_models import AccountEvent, Role
from incidents import services as incident_services
from incidents.models import Incident, RoleAssignment, TimelineEvent
from notifications.models import ChannelPause
from tests.factories.incidents import UserFactory, severity
from tests.factories.statuspage import ScheduledMaintenanceFactory

pytestmark = pytest.mark.django_db

RECORD_ONLY = {
    "auth.group",
    "common.accountevent",
    "common.idempotencykey",
    "common.invitation",
    "incidents.alertpayload",
    "incidents.alertsource",
    "incidents.alertgroup",
    "incidents.decision",
    "incidents.incident",
    "incidents.roleassignment",
    "incidents.timelineevent",
    "notifications.channelpause",
    "notifications.circuitbreaker",
    "notifications.delivery",
    "notifications.personalnotice",
    "notifications.slackuserlink",
    "notifications.statusupdate",
    "postmortems.actionitem",
    "postmortems.postmortem",
    "postmortems.postmortemtemplate",
    "postmortems.remediationoption",
    "postmortems.review",
    "statuspage.componentstatuschange",
    "statuspage.scheduledmaintenance",
    "statuspage.subscribernotification",
    "reports.digestdelivery",
    "reports.weeklydigest",
    "workspace.destinationtestsend",
    "workspace.slackcheck",
    "workspace.slacksettings",
}


@pytest.fixture
def back_office(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def _label(model) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


def test_every_record_only_table_is_registered_and_refuses_add_and_change(
    back_office, admin_user, rf
):
    registry = {_label(model): model_admin for model, model_admin in admin.site._registry.items()}
    assert not RECORD_ONLY - set(registry), RECORD_ONLY - set(registry)
    for label in sorted(RECORD_ONLY):
        model_admin = registry[label]
        request = rf.get("/admin/")
        request.user = admin_user
        assert not model_admin.has_add_permission(request), label
        assert not model_admin.has_change_permission(request), label
        app_label, model_name = label.split(".")
        add_page = back_office.get(f"/admin/{app_label}/{model_name}/add/")
        assert add_page.status_code == 403, label


def test_the_admin_index_offers_no_add_link_for_record_only_tables(back_office):
    page = back_office.get("/admin/").content.decode()
    for label in RECORD_ONLY:
        app_label, model_name = label.split(".")
        assert f'href="/admin/{app_label}/{model_name}/add/"' not in page, label
    assert 'href="/admin/incidents/service/add/"' in page  # configuration stays editable


def test_an_incident_is_read_in_the_admin_and_changed_in_the_app(back_office, responder):
    incident = incident_services.incident_declare(
        title="Checkout errors", severity=severity("SEV2"), actor=responder
    )
    other = UserFactory(username="otto", role="responder")
    events = TimelineEvent.objects.filter(incident=incident).count()
    history = incident.history.count()
    url = f"/admin/incidents/incident/{incident.pk}/change/"

    page = back_office.get(url)
    body = page.content.decode()
    assert page.status_code == 200
    assert f'href="{reverse("incidents:detail", args=[incident.pk])}"' in body
    assert "Manage in the app" in body
    assert 'name="_save"' not in body

    refused = back_office.post(url, {"title": "Renamed in the admin", "commander": other.pk})
    assert refused.status_code == 403
    incident.refresh_from_db()
    assert incident.title == "Checkout errors"
    assert incident.commander == responder
    assert TimelineEvent.objects.filter(incident=incident).count() == events
    assert incident.history.count() == history
    assert not RoleAssignment.objects.filter(incident=incident, user=other).exists()
    assert Incident.objects.count() == 1


def test_a_maintenance_links_to_the_app_and_a_bad_id_is_not_an_error(back_office):
    maintenance = ScheduledMaintenanceFactory()
    page = back_office.get(f"/admin/statuspage/scheduledmaintenance/{maintenance.pk}/change/")
    assert page.status_code == 200
    assert reverse("maintenance:detail", args=[maintenance.pk]) in page.content.decode()
    missing = back_office.get("/admin/statuspage/scheduledmaintenance/not-an-id/change/")
    assert missing.status_code in (302, 404)


def test_record_only_actions_still_call_their_service(back_office):
    """Resume is an action on the channel pauses list: it stays, through its service."""
    ChannelPause.objects.create(kind="slack", reason="invalid_auth", paused_at=timezone.now())
    response = back_office.post(
        "/admin/notifications/channelpause/",
        {"action": "resume", "_selected_action": [ChannelPause.objects.get().pk]},
        follow=False,
    )
    assert response.status_code == 302
    assert not ChannelPause.objects.exists()


def test_roles_and_access_change_on_the_people_page_not_in_the_admin(back_office):
    """The admin's user form cannot give a role, a superuser flag or deactivate: those
    writes are People's, which record an AccountEvent and keep the last admin."""
    person = UserFactory(username="vera", role="viewer", first_name="Vera")
    admin_role = Group.objects.get_or_create(name=role_groups()[Role.ADMIN])[0]
    url = f"/admin/auth/user/{person.pk}/change/"

    page = back_office.get(url)
    body = page.content.decode()
    assert page.status_code == 200
    assert f'href="{reverse("people")}"' in body
    assert 'name="groups"' not in body
    assert 'name="is_superuser"' not in body

    form = {
        "username": "vera",
        "first_name": "Vera Lynn",
        "last_name": "",
        "email": "vera@example.com",
        "groups": [admin_role.pk],
        "is_superuser": "on",
        "is_staff": "on",
        "is_active": "",
    }
    saved = back_office.post(url, form)
    assert saved.status_code == 302
    person.refresh_from_db()
    assert person.first_name == "Vera Lynn"  # plain profile fields stay editable
    assert (person.is_superuser, person.is_staff, person.is_active) == (False, False, True)
    assert role_of(person) == Role.VIEWER
    assert back_office.get("/admin/auth/user/add/").status_code == 403
    assert not AccountEvent.objects.filter(user=person).exists()
