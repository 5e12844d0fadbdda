"""Writes cost what they should: a declare and a status update make a fixed, small
number of queries, the same for one service or audience as for ten, and answer
from what the write holds (no read-back of the incident or the update).

Counted as production runs them: a service's own transaction is BEGIN/COMMIT there
(not statements Django logs) but a savepoint pair inside the test's transaction, so
that outermost pair is left out (``statements``); every inner savepoint counts.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.models import Incident, TimelineEvent
from notifications.models import Audience, Delivery, Destination, Route, StatusUpdate
from tests.factories.incidents import ServiceFactory, severity
from tests.factories.notifications import DestinationFactory

pytestmark = pytest.mark.django_db
# With routed audiences that have destinations (so the deliveries' INSERT counts).
DECLARE_MAX = 15
UPDATE_MAX = 9
# The web forms' posts: the session and the form's own look-ups.
FORM_DECLARE_MAX = 17
# The composer's answer is a page: its session and the posted notice read more.
COMPOSER_UPDATE_MAX = 11


def statements(queries: CaptureQueriesContext) -> list[str]:
    sql = [query["sql"] for query in queries.captured_queries]
    first = next((s for s in sql if s.startswith("SAVEPOINT ")), None)
    if first is None:
        return sql
    name = first.removeprefix("SAVEPOINT ")
    return [s for s in sql if s not in (first, f"RELEASE SAVEPOINT {name}")]


def audiences_with_destinations(count: int) -> list[Audience]:
    """``count`` audiences routed for every incident, each with a Slack channel and
    an email list (whose thread root is looked up)."""
    made = []
    for number in range(count):
        audience = Audience.objects.create(slug=f"team-{number}", name=f"Team {number}")
        Route.objects.create(name=f"all to {number}", audience=audience)
        DestinationFactory(audience=audience, name=f"slack {number}")
        DestinationFactory(
            audience=audience,
            kind=Destination.Kind.EMAIL,
            name=f"email {number}",
            target=f"team{number}@example.com",
        )
        made.append(audience)
    return made


def declare_over_api(client, services: list[str], title: str = "Checkout errors"):
    return client.post(
        "/api/v1/incidents/",
        {"title": title, "severity": "SEV2", "services": services},
        format="json",
    )


def count_api_declare(client, services: list[str]) -> int:
    declare_over_api(client, services, title="warm-up")  # the token's last use is written
    with CaptureQueriesContext(connection) as queries:
        response = declare_over_api(client, services)
    assert response.status_code == 201, response.content
    return len(statements(queries))


@pytest.mark.parametrize("audiences", [1, 10])
def test_an_api_declare_costs_the_same_for_1_and_10_services(as_user, responder, audiences):
    audiences_with_destinations(audiences)
    slugs = [ServiceFactory(slug=f"svc-{n}").slug for n in range(10)]
    client = as_user(responder)

    one = count_api_declare(client, slugs[:1])
    ten = count_api_declare(client, slugs)

    assert one == ten, (one, ten)
    assert ten <= DECLARE_MAX, ten


def test_the_declare_answer_is_what_a_read_returns(as_user, responder):
    audiences_with_destinations(2)
    slugs = [ServiceFactory(slug=f"svc-{n}", name=f"Service {9 - n}").slug for n in range(4)]
    client = as_user(responder)

    response = declare_over_api(client, slugs[::-1])

    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer == client.get(f"/api/v1/incidents/{answer['id']}/").json()


def test_a_declare_writes_one_history_row_with_its_services(as_user, responder):
    slugs = [ServiceFactory(slug=f"svc-{n}").slug for n in range(3)]
    client = as_user(responder)

    incident = Incident.objects.get(pk=declare_over_api(client, slugs).json()["id"])

    (row,) = incident.history.all()
    assert row.history_type == "+"
    assert row.history_user == responder
    assert row.history_change_reason == "declared"
    assert sorted(link.service.slug for link in row.services.all()) == slugs
    assert sorted(s.slug for s in incident.services.all()) == slugs


def test_a_declare_still_fans_out_to_every_destination(as_user, responder):
    audiences = audiences_with_destinations(3)
    client = as_user(responder)

    incident_id = declare_over_api(client, [ServiceFactory().slug]).json()["id"]

    update = StatusUpdate.objects.get(incident_id=incident_id, kind="declared")
    assert set(update.audiences.values_list("slug", flat=True)) >= {a.slug for a in audiences}
    reached = set(
        Delivery.objects.filter(update=update).values_list("destination__name", flat=True)
    )
    assert reached >= {f"slack {n}" for n in range(3)} | {f"email {n}" for n in range(3)}


@pytest.mark.parametrize("audiences", [1, 10])
def test_a_declare_from_the_form_costs_the_same_for_1_and_10_services(client, responder, audiences):
    audiences_with_destinations(audiences)
    services = [ServiceFactory(slug=f"svc-{n}") for n in range(10)]
    client.force_login(responder)

    def count(chosen) -> int:
        form = {
            "title": "Checkout errors",
            "severity": severity("SEV2").pk,
            "detection_source": "internal",
        }
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                reverse("incidents:declare"), {**form, "services": [s.pk for s in chosen]}
            )
        assert response.status_code == 302, response.context["form"].errors
        return len(statements(queries))

    one, ten = count(services[:1]), count(services)

    assert one == ten, (one, ten)
    assert ten <= FORM_DECLARE_MAX, ten


def post_update_over_api(client, incident_id: int, audiences: list[str], message: str):
    return client.post(
        f"/api/v1/incidents/{incident_id}/updates/",
        {"message": message, "audiences": audiences},
        format="json",
    )


@pytest.mark.parametrize("routed", [False, True])
def test_an_api_status_update_costs_the_same_for_1_and_10_audiences(as_user, responder, routed):
    slugs = [a.slug for a in audiences_with_destinations(10)]
    client = as_user(responder)
    incident_id = declare_over_api(client, [ServiceFactory().slug]).json()["id"]

    def count(addressed: list[str]) -> int:
        post_update_over_api(client, incident_id, addressed, "warm-up")
        payload = {"message": "We are rolling back."}
        if not routed:
            payload["audiences"] = addressed
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                f"/api/v1/incidents/{incident_id}/updates/", payload, format="json"
            )
        assert response.status_code == 201, response.content
        return len(statements(queries))

    one, ten = count(slugs[:1]), count(slugs)

    assert one == ten, (one, ten)
    assert ten <= UPDATE_MAX, ten


def test_the_update_answer_is_what_a_read_returns(as_user, responder):
    slugs = [a.slug for a in audiences_with_destinations(3)]
    client = as_user(responder)
    incident_id = declare_over_api(client, []).json()["id"]
    post_update_over_api(client, incident_id, slugs, "First.")  # the next email threads

    response = post_update_over_api(client, incident_id, slugs[::-1], "We are rolling back.")

    assert response.status_code == 201, response.content
    answer = response.json()
    (listed,) = [
        u
        for u in client.get(f"/api/v1/incidents/{incident_id}/updates/").json()
        if u["id"] == answer["id"]
    ]
    assert answer == listed
    assert len(answer["deliveries"]) == 6
    emails = Delivery.objects.filter(update_id=answer["id"], destination__kind="email")
    assert all(delivery.thread_root_id for delivery in emails)
    assert TimelineEvent.objects.filter(incident_id=incident_id, kind="status_update").count() == 2


@pytest.mark.parametrize("audiences", [1, 10])
def test_a_status_update_from_the_composer_costs_the_same_for_1_and_10_audiences(
    client, responder, audiences
):
    chosen = [a.slug for a in audiences_with_destinations(10)][:audiences]
    client.force_login(responder)
    incident = Incident.objects.get(
        pk=declare_over_api_as(responder, [ServiceFactory().slug]).json()["id"]
    )
    url = reverse("communications:update_post", args=[incident.pk])
    client.post(url, {"message": "warm-up", "audiences": chosen})

    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, {"message": "We are rolling back.", "audiences": chosen})

    assert response.status_code == 302, response.content
    assert len(statements(queries)) <= COMPOSER_UPDATE_MAX, statements(queries)


def declare_over_api_as(user, services):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(user)
    return declare_over_api(api, services)
