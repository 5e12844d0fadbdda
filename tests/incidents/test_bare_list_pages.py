"""The history, deliveries and updates API lists: bare arrays (the contract), answered a page at
a time with ``?cursor=`` and an RFC 8288 ``Link: <...>; rel="next"`` header (issue 17)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import apis as incident_apis
from incidents import history, services
from incidents.models import TimelineEvent
from notifications import apis as notification_apis
from notifications import services as notification_services
from tests.factories.incidents import UserFactory, history_in_every_stream, severity
from tests.factories.notifications import DestinationFactory, audience

pytestmark = pytest.mark.django_db
BASE = "/api/v1/incidents/"
LINK = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


@pytest.fixture
def incident(responder):
    return services.incident_declare(
        title="Checkout 500s", severity=severity("SEV3"), actor=responder
    )


def _next(response) -> str | None:
    header = response.headers.get("Link")
    if header is None:
        return None
    match = LINK.match(header)
    assert match, header
    assert match["url"].startswith("http://testserver/api/v1/incidents/")
    return match["url"]


def _walk(client, url: str) -> tuple[list, int]:
    """Every item of a list, following its Link headers; and how many pages it took."""
    items, pages = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        assert isinstance(response.json(), list)
        items += response.json()
        pages += 1
        url = _next(response)
    return items, pages


def _full_history(incident) -> list:
    return incident_apis.HistoryEntryOutput(
        history.incident_history(incident=incident), many=True
    ).data


def test_history_pages_together_are_the_whole_trail(incident, responder, as_user, monkeypatch):
    monkeypatch.setattr(incident_apis, "HISTORY_PAGE", 4)
    history_in_every_stream(incident, responder, rounds=5)
    expected = [dict(entry) for entry in _full_history(incident)]
    assert len(expected) > 3 * 4
    items, pages = _walk(as_user(responder), f"{BASE}{incident.pk}/history/")
    assert items == expected
    assert pages == -(-len(expected) // 4)


def test_history_first_page_holds_the_default_page_size(incident, responder, as_user):
    for n in range(incident_apis.HISTORY_PAGE + 5):
        services.incident_update(incident=incident, actor=responder, data={"title": f"Edit {n}"})
    client = as_user(responder)
    first = client.get(f"{BASE}{incident.pk}/history/")
    assert len(first.json()) == incident_apis.HISTORY_PAGE
    rest = client.get(_next(first))
    assert len(rest.json()) == 6  # the declare's entry and the 105 edits
    assert _next(rest) is None


def test_history_cursor_is_stable_while_changes_arrive(incident, responder, as_user, monkeypatch):
    monkeypatch.setattr(incident_apis, "HISTORY_PAGE", 3)
    history_in_every_stream(incident, responder, rounds=2)
    client = as_user(responder)
    first = client.get(f"{BASE}{incident.pk}/history/")
    history_in_every_stream(incident, responder, rounds=2)  # after the first page was read
    items, _ = _walk(client, _next(first))
    assert first.json() + items == [dict(entry) for entry in _full_history(incident)]


def test_history_page_query_count_is_flat_in_history_size(incident, responder, as_user):
    client = as_user(responder)
    url = f"{BASE}{incident.pk}/history/"
    counts = []
    for rounds in (1, 8):
        history_in_every_stream(incident, responder, rounds=rounds)
        first = client.get(url)
        with CaptureQueriesContext(connection) as queries:
            client.get(_next(first) or url)
        counts.append(len(queries))
    assert counts[0] == counts[1]


@pytest.fixture
def many_deliveries(incident, responder):
    for n in range(4):
        DestinationFactory(audience=audience("cs"), name=f"cs list {n}", kind="email",
                           target=f"cs{n}@example.com")  # fmt: skip
    for n in range(4):
        notification_services.update_post(
            incident=incident, message=f"Update {n}", actor=responder, audiences=["cs"]
        )
    return incident


def test_deliveries_pages_together_are_the_whole_list(
    many_deliveries, responder, as_user, monkeypatch
):
    monkeypatch.setattr(notification_apis, "DELIVERIES_PAGE", 3)
    client = as_user(responder)
    incident = many_deliveries
    items, pages = _walk(client, f"{BASE}{incident.pk}/deliveries/")
    monkeypatch.setattr(notification_apis, "DELIVERIES_PAGE", 1000)
    whole = client.get(f"{BASE}{incident.pk}/deliveries/").json()
    assert len(whole) >= 16
    assert items == whole
    assert len({item["id"] for item in items}) == len(items)
    assert pages == -(-len(whole) // 3)


def test_deliveries_cursor_is_stable_while_updates_arrive(
    many_deliveries, responder, as_user, monkeypatch
):
    monkeypatch.setattr(notification_apis, "DELIVERIES_PAGE", 5)
    client = as_user(responder)
    incident = many_deliveries
    first = client.get(f"{BASE}{incident.pk}/deliveries/")
    notification_services.update_post(
        incident=incident, message="Later", actor=responder, audiences=["cs"]
    )
    items, _ = _walk(client, _next(first))
    monkeypatch.setattr(notification_apis, "DELIVERIES_PAGE", 1000)
    whole = client.get(f"{BASE}{incident.pk}/deliveries/").json()
    assert first.json() + items == whole


def test_updates_pages_together_are_the_whole_list(
    many_deliveries, responder, as_user, monkeypatch
):
    monkeypatch.setattr(notification_apis, "UPDATES_PAGE", 2)
    client = as_user(responder)
    incident = many_deliveries
    items, pages = _walk(client, f"{BASE}{incident.pk}/updates/")
    monkeypatch.setattr(notification_apis, "UPDATES_PAGE", 1000)
    whole = client.get(f"{BASE}{incident.pk}/updates/").json()
    assert len(whole) == 5  # the declare's announcement and four updates
    assert items == whole
    assert [update["message"] for update in whole][1:] == [f"Update {n}" for n in range(4)]
    assert all(len(update["deliveries"]) == 4 for update in whole[1:])
    assert pages == 3


def test_updates_first_page_holds_the_default_page_size(incident, responder, as_user):
    for n in range(notification_apis.UPDATES_PAGE + 2):
        notification_services.update_post(incident=incident, message=f"Update {n}", actor=responder)
    client = as_user(responder)
    first = client.get(f"{BASE}{incident.pk}/updates/")
    assert len(first.json()) == notification_apis.UPDATES_PAGE
    rest = client.get(_next(first))
    assert [update["message"] for update in rest.json()][
        -1
    ] == f"Update {notification_apis.UPDATES_PAGE + 1}"
    assert _next(rest) is None


def test_updates_cursor_is_stable_while_updates_arrive(
    many_deliveries, responder, as_user, monkeypatch
):
    monkeypatch.setattr(notification_apis, "UPDATES_PAGE", 2)
    client = as_user(responder)
    incident = many_deliveries
    first = client.get(f"{BASE}{incident.pk}/updates/")
    notification_services.update_post(
        incident=incident, message="Later", actor=responder, audiences=["cs"]
    )
    items, _ = _walk(client, _next(first))
    monkeypatch.setattr(notification_apis, "UPDATES_PAGE", 1000)
    whole = client.get(f"{BASE}{incident.pk}/updates/").json()
    assert first.json() + items == whole
    assert whole[-1]["message"] == "Later"


def test_updates_page_query_count_is_flat_in_updates_and_deliveries(
    incident, responder, as_user, monkeypatch
):
    monkeypatch.setattr(notification_apis, "UPDATES_PAGE", 3)
    client = as_user(responder)
    url = f"{BASE}{incident.pk}/updates/"
    counts = []
    for destinations, updates in ((1, 3), (4, 30)):
        for n in range(destinations):
            DestinationFactory(audience=audience("cs"), kind="email",
                               target=f"list{destinations}-{n}@example.com")  # fmt: skip
        for n in range(updates):
            notification_services.update_post(
                incident=incident, message=f"Update {n}", actor=responder, audiences=["cs"]
            )
        client.get(url)  # the first request of a token also records its use
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


@pytest.mark.parametrize("path", ["history", "deliveries", "updates"])
@pytest.mark.parametrize("cursor", ["nonsense", "x" * 600])
def test_a_bad_cursor_is_400_naming_cursor(incident, responder, as_user, path, cursor):
    response = as_user(responder).get(f"{BASE}{incident.pk}/{path}/", {"cursor": cursor})
    assert response.status_code == 400
    assert "cursor" in response.json()["errors"]


def test_one_lists_cursor_is_refused_by_the_other(many_deliveries, responder, as_user, monkeypatch):
    monkeypatch.setattr(notification_apis, "DELIVERIES_PAGE", 2)
    client = as_user(responder)
    incident = many_deliveries
    deliveries_next = _next(client.get(f"{BASE}{incident.pk}/deliveries/"))
    cursor = deliveries_next.split("cursor=", 1)[1]
    response = client.get(f"{BASE}{incident.pk}/history/?cursor={cursor}")
    assert response.status_code == 400
    assert "cursor" in response.json()["errors"]


def test_a_hidden_incidents_history_is_404_with_any_cursor(responder, as_user):
    owner = UserFactory(username="owen", role="responder")
    hidden = services.incident_declare(
        title="Private", severity=severity("SEV3"), actor=owner, private=True
    )
    outsider = UserFactory(username="otto", role="responder")
    assert as_user(outsider).get(f"{BASE}{hidden.pk}/history/").status_code == 404
    assert TimelineEvent.objects.filter(incident=hidden).exists()


def test_schema_documents_cursor_and_link_header(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    for path in (
        "/api/v1/incidents/{id}/history/",
        "/api/v1/incidents/{id}/deliveries/",
        "/api/v1/incidents/{id}/updates/",
    ):
        operation = schema["paths"][path]["get"]
        names = {parameter["name"] for parameter in operation.get("parameters", [])}
        assert "cursor" in names
        ok = operation["responses"]["200"]
        assert "Link" in ok["headers"]
        assert ok["content"]["application/json"]["schema"]["type"] == "array"
