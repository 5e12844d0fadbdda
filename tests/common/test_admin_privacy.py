"""The back office hides private incidents from staff who are not participants,
in every admin that lists rows of an incident (seed 003: granular permissions)."""

import pytest
from django.contrib.auth.models import Permission

from incidents import services as incident_services
from notifications import services as notification_services
from postmortems import services as postmortem_services
from tests.factories.incidents import UserFactory, severity
from tests.factories.notifications import DestinationFactory, audience

pytestmark = pytest.mark.django_db

SECRET = "SECRET-BREACH-7f3a"
CHANGELISTS = [
    "/admin/incidents/incident/",
    "/admin/incidents/timelineevent/",
    "/admin/incidents/decision/",
    "/admin/incidents/roleassignment/",
    "/admin/notifications/statusupdate/",
    "/admin/notifications/delivery/",
    "/admin/notifications/personalnotice/",
    "/admin/postmortems/postmortem/",
    "/admin/postmortems/actionitem/",
    "/admin/postmortems/remediationoption/",
]


@pytest.fixture
def private_incident(responder):
    DestinationFactory(audience=audience("responders"), kind="email", target="x@example.test")
    incident = incident_services.incident_declare(
        title=SECRET, severity=severity("SEV3"), actor=responder, private=True
    )
    incident_services.decision_record(
        incident=incident, options=[SECRET, "b"], chosen=SECRET, rationale=SECRET, actor=responder
    )
    notification_services.update_post(
        incident=incident, message=SECRET, actor=responder, audiences=["responders"]
    )
    postmortem = postmortem_services.postmortem_start(incident=incident, actor=responder)
    postmortem_services.action_item_create(
        postmortem=postmortem, actor=responder, data={"title": SECRET}
    )
    # A personal notice (the scribe is told): its ledger row names the incident.
    incident_services.incident_assign_role(
        incident=incident, role="scribe", user=UserFactory(username="scribe"), actor=responder
    )
    return incident


@pytest.fixture
def staff_outsider(db):
    user = UserFactory(username="staffer", role="responder")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


def test_staff_who_are_not_participants_see_no_private_rows(
    client, private_incident, staff_outsider, admin_user
):
    client.force_login(admin_user)
    for url in CHANGELISTS:
        assert client.get(url).context["cl"].result_count >= 1, url

    client.force_login(staff_outsider)
    for url in CHANGELISTS:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.context["cl"].result_count == 0, url
        assert SECRET not in response.content.decode(), url
    history = client.get(f"/admin/incidents/incident/{private_incident.pk}/history/")
    assert history.status_code == 404
