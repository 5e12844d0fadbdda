"""Private incidents: visible to participants and admins only, everywhere."""

import pytest

from incidents import services
from tests.factories.incidents import IncidentFactory, UserFactory, severity

pytestmark = pytest.mark.django_db
BASE = "/api/v1/incidents/"
DETAIL_PATHS = ["", "timeline/", "decisions/", "history/"]
WRITE_PATHS = {
    "stage/": {"stage": "judge"},
    "close/": {},
    "timeline/": {"text": "x"},
    "decisions/": {"options": ["a"], "chosen": "a", "rationale": "r"},
    "roles/": {"role": "scribe", "user": "rita"},
}


@pytest.fixture
def creator():
    return UserFactory(username="cara", role="responder")


@pytest.fixture
def private(creator):
    return services.incident_declare(
        title="Credential leak",
        summary="secret-word",
        severity=severity("SEV1"),
        actor=creator,
        private=True,
    )


@pytest.fixture
def outsider():
    return UserFactory(username="otto", role="responder")


def _ids(client, query=""):
    return [row["id"] for row in client.get(f"{BASE}?{query}").json()["results"]]


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_non_participants_cannot_see_a_private_incident(as_user, private, viewer, outsider, who):
    client = as_user({"viewer": viewer, "outsider": outsider}[who])
    for path in DETAIL_PATHS:
        response = client.get(f"{BASE}{private.pk}/{path}")
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"
    assert private.pk not in _ids(client)
    assert _ids(client, "search=leak") == []
    assert _ids(client, "search=secret-word") == []
    assert _ids(client, f"search={private.pk}") == []
    assert _ids(client, "severity=SEV1") == []
    assert client.get(BASE).json()["count"] == 0


def test_non_participants_cannot_write_to_a_private_incident(as_user, private, outsider):
    client = as_user(outsider)
    assert client.patch(f"{BASE}{private.pk}/", {"title": "x"}, format="json").status_code == 404
    for path, body in WRITE_PATHS.items():
        assert client.post(f"{BASE}{private.pk}/{path}", body, format="json").status_code == 404
    private.refresh_from_db()
    assert private.stage == "detect" and private.title == "Credential leak"
    assert private.events.count() == 1


def _assert_visible(client, incident):
    for path in DETAIL_PATHS:
        assert client.get(f"{BASE}{incident.pk}/{path}").status_code == 200, path
    assert incident.pk in _ids(client)
    assert incident.pk in _ids(client, "search=leak")


def test_the_creator_sees_it(as_user, private, creator):
    _assert_visible(as_user(creator), private)


def test_admins_see_it(as_user, private, admin_user):
    _assert_visible(as_user(admin_user), private)


def test_admins_group_members_see_it(as_user, private):
    _assert_visible(as_user(UserFactory(username="agnes", role="admin")), private)


def test_a_new_commander_sees_it(as_user, private, creator, outsider):
    services.incident_assign_role(incident=private, role="commander", user=outsider, actor=creator)
    _assert_visible(as_user(outsider), private)


def test_a_responder_added_sees_it_and_can_drive_it(as_user, private, creator, outsider):
    services.incident_assign_role(incident=private, role="responder", user=outsider, actor=creator)
    client = as_user(outsider)
    _assert_visible(client, private)
    assert (
        client.post(f"{BASE}{private.pk}/stage/", {"stage": "judge"}, format="json").status_code
        == 200
    )


def test_a_viewer_made_scribe_sees_it(as_user, private, creator, viewer):
    services.incident_assign_role(incident=private, role="scribe", user=viewer, actor=creator)
    _assert_visible(as_user(viewer), private)


def test_commander_and_responders_without_assignment_rows_see_it(as_user, outsider, viewer):
    # Rows made outside the services (imports, factories) still respect the fields.
    incident = IncidentFactory(title="Credential leak", private=True, commander=outsider)
    incident.responders.add(viewer)
    _assert_visible(as_user(outsider), incident)
    _assert_visible(as_user(viewer), incident)


def test_making_an_incident_private_hides_it(as_user, creator, outsider):
    incident = services.incident_declare(
        title="Credential leak", severity=severity("SEV2"), actor=creator
    )
    assert as_user(outsider).get(f"{BASE}{incident.pk}/").status_code == 200
    response = as_user(creator).patch(f"{BASE}{incident.pk}/", {"private": True}, format="json")
    assert response.status_code == 200 and response.json()["private"] is True
    assert as_user(outsider).get(f"{BASE}{incident.pk}/").status_code == 404


def test_public_incidents_are_visible_to_everyone_signed_in(as_user, creator, viewer, outsider):
    incident = services.incident_declare(title="Slow", severity=severity("SEV4"), actor=creator)
    for user in (viewer, outsider):
        assert incident.pk in _ids(as_user(user))
