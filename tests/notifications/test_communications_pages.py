"""The Communications tab a page of deliveries at a time (issue 17): the API's order and
cursor through plain links, where the reader is, a 400 for a bad cursor, the reader's
page kept across the region's HTMX actions, the banner judging every delivery in
trouble, the latest updates only; the queries do not grow with the deliveries."""

import html
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from common import keyset
from incidents import services as incident_services
from notifications import selectors, services, views
from notifications.models import Delivery, Destination
from tests.factories.incidents import severity
from tests.factories.notifications import DestinationFactory, audience

pytestmark = pytest.mark.django_db
NEXT = re.compile(r'<a class="button" href="([^"]+)" rel="next">([^<]+)</a>')
POSITION = re.compile(r"<span class=\"result-count\" role=\"status\" data-position>([^<]*)</span>")
BANNER = re.compile(
    r'<div class="banner banner-warn"[^>]*id="communications-banner".*?\n</div>', re.S
)
# The tab's queries, the same however many deliveries and updates the incident has
# (the ChannelPause rows read once, for the page's rows and the banner alike).
QUERIES = 26


@pytest.fixture
def incident(responder):
    return incident_services.incident_declare(
        title="Logins fail", severity=severity("SEV3"), actor=responder
    )


def _lists(count: int, *, first: int = 0) -> None:
    for n in range(first, first + count):
        DestinationFactory(
            audience=audience("cs"),
            kind=Destination.Kind.EMAIL,
            name=f"cs list {n:02}",
            target=f"cs{n}@example.test",
        )


def _post(incident, responder, updates: int) -> None:
    for n in range(updates):
        services.update_post(
            incident=incident, message=f"Update {n}", actor=responder, audiences=["cs"]
        )


@pytest.fixture
def sixteen(incident, responder):
    """Sixteen deliveries: four updates to four lists."""
    _lists(4)
    _post(incident, responder, 4)
    return incident


def _url(incident) -> str:
    return f"/incidents/{incident.pk}/communications/"


def _next(body: str) -> str | None:
    found = NEXT.search(body)
    return html.unescape(found[1]) if found else None


def _position(body: str) -> str:
    """Where the page says it is, its en dash written "-"."""
    return html.unescape(POSITION.search(body)[1]).replace("\N{EN DASH}", "-")


def _walk(client, url: str) -> list:
    """Each page's response, following the "Next" links."""
    responses = []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        responses.append(response)
        url = _next(response.content.decode())
    return responses


def _shown(responses) -> list:
    return [delivery.pk for response in responses for delivery in response.context["deliveries"]]


def _all_in_the_apis_order(incident) -> list:
    deliveries = selectors.deliveries_for(incident=incident)
    return [d.pk for d in deliveries.order_by(*selectors.DELIVERIES_ORDER)]


def _cursor(url: str) -> str:
    return parse_qs(urlsplit(url).query)["cursor"][0]


def test_the_pages_together_are_every_delivery_once_in_the_apis_order(
    client, sixteen, responder, monkeypatch
):
    monkeypatch.setattr(selectors, "DELIVERIES_PAGE", 5)
    client.force_login(responder)
    responses = _walk(client, _url(sixteen))
    assert len(responses) == 4
    assert _shown(responses) == _all_in_the_apis_order(sixteen)
    bodies = [response.content.decode() for response in responses]
    assert _position(bodies[0]) == "Deliveries 1-5 of 16"
    assert _position(bodies[1]) == "Deliveries 6-10 of 16"
    assert _position(bodies[-1]) == "Deliveries 16-16 of 16"
    assert NEXT.search(bodies[0])[2] == "Next 5 deliveries →"
    assert 'rel="next"' not in bodies[-1]
    assert f'href="{_url(sixteen)}" data-first-page>Back to the start</a>' in bodies[-1]
    assert "data-first-page" not in bodies[0]


def test_the_tab_and_the_api_page_with_one_cursor(client, sixteen, responder, monkeypatch):
    """The tab's "Next" cursor is the API's: the API's second page is the tab's."""
    monkeypatch.setattr(selectors, "DELIVERIES_PAGE", 5)
    client.force_login(responder)
    cursor = _cursor(_next(client.get(_url(sixteen)).content.decode()))
    tab = client.get(_url(sixteen), {"cursor": cursor})
    api = client.get(f"/api/v1/incidents/{sixteen.pk}/deliveries/", {"cursor": cursor})
    assert api.status_code == 200
    assert [str(d.pk) for d in tab.context["deliveries"]][:5] == [d["id"] for d in api.json()][:5]


def test_the_cursor_is_stable_while_deliveries_arrive(client, sixteen, responder, monkeypatch):
    monkeypatch.setattr(selectors, "DELIVERIES_PAGE", 5)
    client.force_login(responder)
    first = client.get(_url(sixteen))
    _post(sixteen, responder, 1)  # four more, after the first page was read
    rest = _walk(client, _next(first.content.decode()))
    assert _shown([first, *rest]) == _all_in_the_apis_order(sixteen)
    assert len(_shown([first, *rest])) == 20


@pytest.mark.parametrize("cursor", ["nonsense", "x" * 600])
def test_a_bad_cursor_is_a_400_with_the_first_page_saying_why(
    client, sixteen, responder, monkeypatch, cursor
):
    monkeypatch.setattr(selectors, "DELIVERIES_PAGE", 5)
    client.force_login(responder)
    response = client.get(_url(sixteen), {"cursor": cursor})
    assert response.status_code == 400
    body = response.content.decode()
    assert "data-cursor-notice" in body and "these are the first deliveries" in body
    assert _position(body) == "Deliveries 1-5 of 16"
    assert _shown([response]) == _all_in_the_apis_order(sixteen)[:5]


def test_the_historys_cursor_is_refused(client, sixteen, responder):
    from incidents import history

    client.force_login(responder)
    key = history.HistoryKey(sixteen.created_at, 0, 1)
    response = client.get(_url(sixteen), {"cursor": history.history_cursor(key)})
    assert response.status_code == 400


def test_an_htmx_action_answers_with_the_readers_page(client, sixteen, responder, monkeypatch):
    """The region posts back its page (hx-vals): a replay from page 2 shows page 2."""
    monkeypatch.setattr(selectors, "DELIVERIES_PAGE", 5)
    client.force_login(responder)
    url = _next(client.get(_url(sixteen)).content.decode())
    second = client.get(url)
    posted = json.loads(html.unescape(re.search(r'hx-vals="([^"]+)"', second.content.decode())[1]))
    assert posted == {"cursor": _cursor(url), "start": "6"}
    on_page = second.context["deliveries"]
    Delivery.objects.filter(pk=on_page[0].pk).update(status=Delivery.Status.DEAD)
    response = client.post(
        f"{_url(sixteen)}deliveries/{on_page[0].pk}/replay/", posted, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert [d.pk for d in response.context["deliveries"]] == [d.pk for d in on_page]
    assert _position(response.content.decode()) == "Deliveries 6-10 of 16"
    assert "data-notice" in response.content.decode()


def test_the_banner_on_the_tab_names_trouble_on_other_pages(
    client, sixteen, responder, monkeypatch
):
    monkeypatch.setattr(selectors, "DELIVERIES_PAGE", 5)
    last = selectors.deliveries_for(incident=sixteen).order_by(*selectors.DELIVERIES_ORDER)
    dead = list(last)[-1]
    Delivery.objects.filter(pk=dead.pk).update(status=Delivery.Status.DEAD, last_error="550")
    client.force_login(responder)
    response = client.get(_url(sixteen))
    assert dead.pk not in {d.pk for d in response.context["deliveries"]}
    banner = BANNER.search(response.content.decode())[0]
    assert "Not reached" in banner and dead.destination.name in banner
    assert "Open communications" not in banner  # it is this tab


def test_the_tab_lists_the_latest_updates_with_their_deliveries_counted(
    client, incident, responder
):
    _lists(2)
    _post(incident, responder, views.UPDATES_SHOWN + 3)
    client.force_login(responder)
    response = client.get(_url(incident))
    body = response.content.decode()
    updates = response.context["updates"]
    assert len(updates) == views.UPDATES_SHOWN
    assert updates[0].message == f"Update {views.UPDATES_SHOWN + 2}"  # newest first
    assert body.count("<span data-delivery-count>2 deliveries, 0 sent</span>") == len(updates)
    assert "data-older-updates" in body and f"/incidents/{incident.pk}/#timeline" in body


def test_a_few_updates_have_no_older_link(client, sixteen, responder):
    client.force_login(responder)
    body = client.get(_url(sixteen)).content.decode()
    assert "data-older-updates" not in body


def test_query_count_is_the_same_for_3_and_300_deliveries(
    client, incident, responder, django_assert_num_queries
):
    client.force_login(responder)
    _lists(1)
    _post(incident, responder, 3)
    with django_assert_num_queries(QUERIES):
        small = client.get(_url(incident)).content.decode()
    assert _position(small) == "All 3 deliveries"
    _lists(9, first=1)
    _post(incident, responder, 30)
    with django_assert_num_queries(QUERIES):
        first = client.get(_url(incident)).content.decode()
    assert _position(first) == "Deliveries 1-100 of 303"
    with django_assert_num_queries(QUERIES):
        second = client.get(_next(first)).content.decode()
    assert _position(second) == "Deliveries 101-200 of 303"
    assert len(first.encode()) < 200_000


def test_the_cursor_helper_is_the_apis(sixteen):
    """One cursor format: what the tab links to decodes as the API's list."""
    page = selectors.deliveries_page(incident=sixteen, cursor=None, size=3)
    raw = keyset.cursor_values(page.next_cursor, name="deliveries", length=3)
    assert raw[1] == page.rows[-1].destination.name
