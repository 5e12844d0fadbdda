"""List and detail make a fixed number of queries, however many rows there are."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import api_row_selectors, services
from incidents.models import Incident
from tests.factories.incidents import ServiceFactory, UserFactory, severity

pytestmark = pytest.mark.django_db
BASE = "/api/v1/incidents/"


def _make(n, actor):
    helpers = [UserFactory(username=f"helper{i}", role="responder") for i in range(3)]
    svc = [ServiceFactory(slug=f"svc-{i}") for i in range(3)]
    made = []
    for i in range(n):
        incident = services.incident_declare(
            title=f"Incident {i}",
            severity=severity(f"SEV{i % 4 + 1}"),
            actor=actor,
            services=svc[: i % 3 + 1],
        )
        services.incident_move(incident=incident, to="judge", actor=helpers[i % 3])
        services.incident_assign_role(
            incident=incident, role="responder", user=helpers[i % 3], actor=actor
        )
        services.incident_assign_role(
            incident=incident, role="scribe", user=helpers[(i + 1) % 3], actor=actor
        )
        services.decision_record(
            incident=incident, options=["a", "b"], chosen="a", rationale="r", actor=actor
        )
        made.append(incident)
    return made


def _count(client, url):
    # A token's first request in a minute also records its last use: one write more.
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


@pytest.mark.parametrize("role", ["responder", "viewer", "admin"])
def test_list_query_count_does_not_grow_with_rows(as_user, responder, viewer, admin_user, role):
    user = {"responder": responder, "viewer": viewer, "admin": admin_user}[role]
    client = as_user(user)
    _make(3, responder)
    few = _count(client, BASE)
    _make(27, UserFactory(username="other", role="responder"))
    assert client.get(BASE).json()["count"] == 30
    many = _count(client, BASE)
    assert many == few, (few, many)


def test_list_query_count_is_small(as_user, responder, django_assert_max_num_queries):
    _make(30, responder)
    client = as_user(responder)
    # Token, user, groups, count, the page's keys, its rows (one query each, so the
    # planner never joins every user column onto every incident before the LIMIT),
    # the people the rows name (one query for the page, not eleven joins per row),
    # services, responders, duplicates.
    with django_assert_max_num_queries(10):
        assert len(client.get(BASE).json()["results"]) == 30
    with django_assert_max_num_queries(10):
        client.get(f"{BASE}?service=svc-1&open=true&search=Incident")


def test_detail_query_count_does_not_grow(as_user, responder, django_assert_max_num_queries):
    client = as_user(responder)
    (small,) = _make(1, responder)
    few = _count(client, f"{BASE}{small.pk}/")
    (big,) = _make(1, responder)
    for i in range(10):
        user = UserFactory(username=f"extra{i}")
        services.incident_assign_role(incident=big, role="responder", user=user, actor=responder)
        services.incident_assign_role(incident=big, role="commander", user=user, actor=responder)
        services.decision_record(
            incident=big, options=["a"], chosen="a", rationale=str(i), actor=responder
        )
    many = _count(client, f"{BASE}{big.pk}/")
    assert many == few, (few, many)
    with django_assert_max_num_queries(10):
        client.get(f"{BASE}{big.pk}/")


def test_timeline_and_decisions_do_not_grow(as_user, responder):
    client = as_user(responder)
    (incident,) = _make(1, responder)
    counts = {}
    for path in ("timeline/", "decisions/"):
        counts[path] = _count(client, f"{BASE}{incident.pk}/{path}")
    for i in range(20):
        services.note_add(
            incident=incident, text=f"n{i}", actor=UserFactory(username=f"n{i}", role="responder")
        )
        services.decision_record(
            incident=incident,
            options=["a"],
            chosen="a",
            rationale="r",
            actor=UserFactory(username=f"d{i}", role="responder"),
        )
    for path, few in counts.items():
        assert _count(client, f"{BASE}{incident.pk}/{path}") == few, path


def test_list_rows_say_what_the_detail_says(as_user, responder):
    """The list reads the people of a page in one query and writes stages and durations
    without a serializer per row: each row is still exactly the incident's detail."""
    made = _make(4, responder)
    commander = UserFactory(username="lead", role="responder")
    services.incident_assign_role(
        incident=made[1], role="commander", user=commander, actor=responder
    )
    services.incident_move(incident=made[2], to="recover", actor=commander)
    client = as_user(responder)
    rows = client.get(BASE).json()["results"]
    assert len(rows) == 4
    for row in rows:
        assert row == client.get(f"{BASE}{row['id']}/").json()
    by_id = {row["id"]: row for row in rows}
    assert by_id[made[1].pk]["commander"] == "lead"
    stages = {stage["stage"]: stage for stage in by_id[made[2].pk]["stages"]}
    assert stages["judge"]["reached_by"] == "helper2"
    assert stages["recover"]["reached_by"] == "lead"
    assert stages["recover"]["reached_at"].endswith("Z")
    assert by_id[made[2].pk]["durations"]["not_measured"] == ""


def test_page_rows_carry_their_relations(responder):
    """The API list's rows carry their services (in the relation's order), responders
    and duplicates as values, read with the page: using them makes no query."""
    made = _make(3, responder)
    rows = api_row_selectors.incident_api_rows([incident.pk for incident in made], user=responder)
    assert len(rows) == 3
    with CaptureQueriesContext(connection) as ctx:
        listed = {row.pk: list(row.services) for row in rows}
        helpers = {row.pk: sorted(row.responders) for row in rows}
    assert ctx.captured_queries == []
    for incident in Incident.objects.filter(pk__in=listed):
        assert listed[incident.pk] == [service.slug for service in incident.services.all()]
        names = sorted(user.username for user in incident.responders.all())
        assert helpers[incident.pk] == names
