"""The incident lists at scale (issue 17): a fixed number of queries for 3 or 300
incidents, keyset cursors that hold under inserts, a capped count."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from common.api import COUNT_CAPPED_HEADER
from incidents.models import Incident
from tests.factories.incidents import ServiceFactory, UserFactory, incidents_bulk

pytestmark = pytest.mark.django_db
BASE = "/api/v1/incidents/"
QUERIES = [
    "",
    "?search=checkout",
    "?service=checkout",
    "?open=true&severity=SEV2",
    "?page=2&page_size=2",
]


def _queries(client, url) -> int:
    client.get(url)  # a token's first request in a minute also records its use
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured.captured_queries)


def _walk(client, url) -> list[dict]:
    pages = []
    while url:
        body = client.get(url).json()
        pages.append(body)
        url = body["next"]
    return pages


@pytest.mark.parametrize("role", ["responder", "viewer", "admin"])
def test_the_api_list_costs_the_same_for_3_and_300_incidents(as_user, role):
    user = UserFactory(username=f"the-{role}", role=role)
    author = UserFactory(username="author", role="responder")
    checkout = ServiceFactory(slug="checkout", name="Checkout")
    client = as_user(user)
    incidents_bulk(3, created_by=author, services=[checkout], events=2)
    few = {query: _queries(client, BASE + query) for query in QUERIES}
    incidents_bulk(297, created_by=author, services=[checkout], events=2)
    first = client.get(BASE).json()
    assert first["count"] == 300
    deep = first["next"]
    many = {query: _queries(client, BASE + query) for query in QUERIES}
    assert many == few
    assert _queries(client, deep) == few[""]


def test_the_list_page_costs_the_same_for_3_and_300_incidents(client, viewer):
    author = UserFactory(username="author", role="responder")
    checkout = ServiceFactory(slug="checkout", name="Checkout")
    client.force_login(viewer)
    url = reverse("incidents:list")
    incidents_bulk(3, created_by=author, services=[checkout], events=2)
    few = [_queries(client, url + query) for query in ("", "?q=checkout", "?service=checkout")]
    incidents_bulk(297, created_by=author, services=[checkout], events=2)
    older = client.get(url).context["page"].next_cursor
    many = [_queries(client, url + query) for query in ("", "?q=checkout", "?service=checkout")]
    assert many == few
    assert _queries(client, f"{url}?cursor={older}") == few[0]


def test_cursor_pages_hold_every_row_once_while_incidents_are_declared(as_user, responder):
    # Ties on the first key (one detected_at for ten) are broken by the id.
    incidents_bulk(
        10, created_by=responder, detected_at=incidents_bulk(1, created_by=responder)[0].detected_at
    )
    incidents_bulk(15, created_by=responder)
    client = as_user(responder)
    before = {row["id"] for row in _walk(client, f"{BASE}?page_size=100")[0]["results"]}
    assert len(before) == 26

    first = client.get(f"{BASE}?page_size=4").json()
    seen = [row["id"] for row in first["results"]]
    url = first["next"]
    while url:
        incidents_bulk(1, created_by=responder)  # newer than everything: not on later pages
        body = client.get(url).json()
        seen.extend(row["id"] for row in body["results"])
        url = body["next"]
    assert len(seen) == len(set(seen)) and set(seen) == before

    # And back: ``previous`` walks the same pages in reverse.
    last = _walk(client, f"{BASE}?page_size=4")[-1]
    back = [row["id"] for row in last["results"]]
    url = last["previous"]
    while url:
        body = client.get(url).json()
        back = [row["id"] for row in body["results"]] + back
        url = body["previous"]
    newest_first = [row["id"] for row in _walk(client, f"{BASE}?page_size=500")[0]["results"]]
    assert back == newest_first


def test_the_first_page_links_a_cursor_and_page_requests_link_pages(as_user, responder):
    incidents_bulk(5, created_by=responder)
    client = as_user(responder)
    first = client.get(f"{BASE}?page_size=2").json()
    assert "cursor=" in first["next"] and first["previous"] is None
    second = client.get(f"{BASE}?page_size=2&page=2").json()
    assert "page=3" in second["next"] and "page=1" in second["previous"]
    assert [row["id"] for row in second["results"]] == [
        row["id"] for row in client.get(first["next"]).json()["results"]
    ]


@pytest.mark.parametrize(
    "cursor",
    ["nonsense", "eyJsIjoiaW5jaWRlbnRzIn0", "x" * 600, "W10:1tZ9Jc:forged-signature"],
)
def test_an_invalid_cursor_is_400_naming_cursor(as_user, responder, cursor):
    incidents_bulk(3, created_by=responder)
    response = as_user(responder).get(BASE, {"cursor": cursor})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and list(body["errors"]) == ["cursor"]


def test_a_cursor_of_another_list_is_refused(as_user, responder):
    from common import keyset

    foreign = keyset.cursor_after("postmortems", ["2026-01-01 00:00:00+00:00", "1"])
    response = as_user(responder).get(BASE, {"cursor": foreign})
    assert response.status_code == 400 and "cursor" in response.json()["errors"]


def test_the_count_is_capped_and_says_so(as_user, client, responder, settings):
    settings.KEEL_LIST_COUNT_CAP = 5
    incidents_bulk(7, created_by=responder)
    response = as_user(responder).get(f"{BASE}?page_size=3")
    assert response.json()["count"] == 5 and response[COUNT_CAPPED_HEADER] == "true"
    pages = _walk(as_user(responder), f"{BASE}?page_size=3")
    assert sum(len(page["results"]) for page in pages) == 7

    client.force_login(responder)
    page = client.get(reverse("incidents:list"))
    assert b"5+ incidents" in page.content
    exact = as_user(responder).get(f"{BASE}?search=nothing-matches")
    assert exact.json()["count"] == 0 and COUNT_CAPPED_HEADER not in exact


def test_the_service_filter_lists_an_incident_once_whatever_its_services(as_user, responder):
    checkout, payments = ServiceFactory(slug="checkout"), ServiceFactory(slug="payments")
    (both,) = incidents_bulk(1, created_by=responder, services=[checkout, payments])
    incidents_bulk(2, created_by=responder, services=[payments])
    body = as_user(responder).get(f"{BASE}?service=checkout").json()
    assert body["count"] == 1 and [row["id"] for row in body["results"]] == [both.pk]


def test_the_open_filter_and_search_are_served_newest_first(as_user, responder):
    from django.utils import timezone

    old, new = incidents_bulk(2, created_by=responder, title="Checkout timeouts")[::-1]
    incidents_bulk(
        1,
        created_by=responder,
        title="Closed one",
        closed_at=timezone.now(),
        stage="retrospect",
        outcome="resolved",
    )
    body = as_user(responder).get(f"{BASE}?open=true&search=CHECKOUT").json()
    assert [row["id"] for row in body["results"]] == [new.pk, old.pk]


def test_a_stale_cursor_on_the_list_page_goes_back_to_the_first_page(client, responder):
    incidents_bulk(3, created_by=responder)
    client.force_login(responder)
    response = client.get(reverse("incidents:list"), {"cursor": "stale", "q": "x"}, follow=True)
    assert response.redirect_chain[-1][0] == f"{reverse('incidents:list')}?q=x"
    assert b"Invalid cursor" in response.content


@pytest.mark.parametrize("cap", [1000, 5])
def test_a_narrow_filter_pages_as_any_list_with_its_count_read_with_the_keys(
    as_user, responder, settings, cap
):
    # A text search takes its count and its page's keys from one query
    # (common.keyset._count_and_keys); past the cap the page is read apart.
    settings.KEEL_LIST_COUNT_CAP = cap
    tie = incidents_bulk(1, created_by=responder, title="Zebra down")[0].detected_at
    incidents_bulk(6, created_by=responder, title="Zebra down", detected_at=tie)
    incidents_bulk(8, created_by=responder, title="Zebra slow")
    incidents_bulk(4, created_by=responder, title="Login errors")
    expected = list(
        Incident.objects.filter(title__icontains="zebra")
        .order_by("-detected_at", "-pk")
        .values_list("pk", flat=True)
    )
    client = as_user(responder)
    pages = _walk(client, f"{BASE}?search=zebra&page_size=4")
    assert [row["id"] for page in pages for row in page["results"]] == expected
    assert {page["count"] for page in pages} == {min(cap, 15)}

    back = [row["id"] for row in pages[-1]["results"]]
    url = pages[-1]["previous"]
    while url:
        body = client.get(url).json()
        back = [row["id"] for row in body["results"]] + back
        url = body["previous"]
    assert back == expected

    second = client.get(f"{BASE}?search=zebra&page_size=4&page=2").json()
    assert [row["id"] for row in second["results"]] == expected[4:8]
    assert client.get(f"{BASE}?search=zebra&page_size=4&page=9").status_code == 404


@pytest.mark.parametrize("cap", [1000, 3])
def test_a_service_filter_counts_its_links_but_the_private_incidents_hidden_from_the_reader(
    as_user, client, responder, admin_user, settings, cap
):
    """A service alone is counted on the link table (``incident_list_counted``); the
    count is the list's, for a participant, an outsider and an admin, capped alike."""
    from incidents import selectors

    settings.KEEL_LIST_COUNT_CAP = cap
    checkout = ServiceFactory(slug="checkout")
    outsider = UserFactory(username="outsider", role="responder")
    incidents_bulk(4, created_by=responder, services=[checkout])
    secret = incidents_bulk(2, created_by=responder, services=[checkout], private=True)
    secret[0].responders.add(UserFactory(username="helper", role="responder"))
    incidents_bulk(3, created_by=responder)  # not linked

    for user, seen in [(outsider, 4), (responder, 6), (admin_user, 6)]:
        filters = {"service": "checkout", "stage": "", "open": None}
        counted = selectors.incident_list_counted(user=user, filters=filters)
        assert counted.count() == selectors.incident_list(user=user, filters=filters).count()
        body = as_user(user).get(f"{BASE}?service=checkout").json()
        assert body["count"] == min(seen, cap) and len(body["results"]) == seen
        client.force_login(user)
        page = client.get(reverse("incidents:list"), {"service": "checkout"}).content.decode()
        assert (f"{cap}+ incidents" if seen > cap else f"{seen} incidents") in page

    for other in ({"service": "checkout", "open": False}, {"service": "checkout", "search": "x"}):
        assert selectors.incident_list_counted(user=outsider, filters=other) is None
    assert selectors.incident_list_counted(user=outsider, filters={}) is None
