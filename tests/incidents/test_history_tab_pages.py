"""The History tab a page at a time (issue 17): ``history.PAGE_SIZE`` changes a page,
continued by the API's cursor through plain links, saying where the reader is; a bad
cursor is a 400 with the first page; the queries do not grow with the trail."""

import html
import re

import pytest

from incidents import history, services
from incidents.history_html import history_rows
from tests.factories.incidents import history_in_every_stream, severity

pytestmark = pytest.mark.django_db
NEXT = re.compile(r'<a class="button" href="([^"]+)" rel="next">([^<]+)</a>')
POSITION = re.compile(r"<span class=\"result-count\" role=\"status\" data-position>([^<]*)</span>")
ROWS = re.compile(r"<tbody>(.*?)</tbody>", re.S)
ROW = re.compile(r"<tr>.*?</tr>", re.S)


@pytest.fixture
def incident(responder):
    return services.incident_declare(
        title="Checkout 500s", severity=severity("SEV3"), actor=responder
    )


def _url(incident) -> str:
    return f"/incidents/{incident.pk}/history/"


def _edit(incident, responder, times: int, *, prefix: str = "Edit") -> None:
    for n in range(times):
        services.incident_update(
            incident=incident, actor=responder, data={"title": f"{prefix} {n}"}
        )


def _next(body: str) -> str | None:
    found = NEXT.search(body)
    return html.unescape(found[1]) if found else None


def _position(body: str) -> str:
    """Where the page says it is, its en dash written "-"."""
    return html.unescape(POSITION.search(body)[1]).replace("\N{EN DASH}", "-")


def _walk(client, url: str) -> list[str]:
    """Each page's body, following the "Next" links."""
    bodies = []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        bodies.append(response.content.decode())
        url = _next(bodies[-1])
    return bodies


def _rows(bodies: list[str]) -> list[str]:
    """The rows of the trail the pages show, in order."""
    return [row for body in bodies for row in ROW.findall(ROWS.search(body)[1])]


def _whole_trail(incident) -> list[str]:
    return ROW.findall(str(history_rows(history.incident_history(incident=incident))))


def test_the_pages_together_are_the_whole_trail_once(client, incident, responder, monkeypatch):
    monkeypatch.setattr(history, "PAGE_SIZE", 4)
    history_in_every_stream(incident, responder, rounds=3)
    entries = len(history.incident_history(incident=incident))
    assert entries > 2 * 4
    client.force_login(responder)
    bodies = _walk(client, _url(incident))
    assert len(bodies) == -(-entries // 4)
    assert _rows(bodies) == _whole_trail(incident)
    assert len(_rows(bodies)) == entries
    assert _position(bodies[0]) == "Changes 1-4 of 4+"
    assert _position(bodies[1]) == "Changes 5-8 of 8+"
    assert _position(bodies[-1]) == f"Changes {4 * (len(bodies) - 1) + 1}-{entries} of {entries}"
    assert NEXT.search(bodies[0])[2] == "Next 4 changes →"
    assert "data-first-page" not in bodies[0]
    last = bodies[-1]
    assert 'rel="next"' not in last
    assert f'href="{_url(incident)}" data-first-page>Back to the start</a>' in last


def test_a_short_trail_is_one_page_with_no_links(client, incident, responder):
    _edit(incident, responder, 2)
    client.force_login(responder)
    body = client.get(_url(incident)).content.decode()
    assert _position(body) == "All 3 changes"
    assert 'class="pagination"' not in body


def test_the_cursor_is_stable_while_changes_arrive(client, incident, responder, monkeypatch):
    monkeypatch.setattr(history, "PAGE_SIZE", 3)
    history_in_every_stream(incident, responder, rounds=2)
    client.force_login(responder)
    first = client.get(_url(incident)).content.decode()
    history_in_every_stream(incident, responder, rounds=2)  # after the first page was read
    rest = _walk(client, _next(first))
    assert _rows([first, *rest]) == _whole_trail(incident)


@pytest.mark.parametrize("cursor", ["nonsense", "x" * 600, "a:b:c"])
def test_a_bad_cursor_is_a_400_with_the_first_page_saying_why(
    client, incident, responder, monkeypatch, cursor
):
    monkeypatch.setattr(history, "PAGE_SIZE", 2)
    _edit(incident, responder, 4)
    client.force_login(responder)
    response = client.get(_url(incident), {"cursor": cursor, "start": "3"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "This link&#x27;s cursor is not valid" in body and "the start of the audit trail" in body
    assert _position(body) == "Changes 1-2 of 2+"
    assert _rows([body]) == _rows([client.get(_url(incident)).content.decode()])


def test_another_lists_cursor_is_refused(client, incident, responder):
    from common import keyset

    client.force_login(responder)
    foreign = keyset.cursor_after("deliveries", ["2026-01-01T00:00:00+00:00", "x", "y"])
    assert client.get(_url(incident), {"cursor": foreign}).status_code == 400


def test_a_link_without_its_start_still_shows_the_right_rows(
    client, incident, responder, monkeypatch
):
    """``start`` only names the rows: without it (or mangled) the page says less."""
    monkeypatch.setattr(history, "PAGE_SIZE", 2)
    _edit(incident, responder, 4)
    client.force_login(responder)
    second = _next(client.get(_url(incident)).content.decode())
    proper = client.get(second).content.decode()
    bare = client.get(second.replace("start=3", "start=abc")).content.decode()
    assert _position(proper) == "Changes 3-4 of 4+"
    assert _position(bare) == "2 more changes"
    assert _rows([bare]) == _rows([proper])


def test_a_cursor_past_the_end_says_there_are_no_more(client, incident, responder, monkeypatch):
    monkeypatch.setattr(history, "PAGE_SIZE", 2)
    _edit(incident, responder, 1)  # two entries: the page is full, one more may follow
    client.force_login(responder)
    key = history.HistoryKey(history.incident_history(incident=incident)[-1].at, 9, 10**9)
    body = client.get(_url(incident), {"cursor": history.history_cursor(key)}).content.decode()
    assert _position(body) == "No more changes"
    assert "No more changes." in body and "data-first-page" in body


def test_query_count_is_the_same_for_3_and_300_changes(
    client, incident, responder, django_assert_num_queries
):
    client.force_login(responder)
    _edit(incident, responder, 2)  # with the declare's entry, 3 changes
    with django_assert_num_queries(14):
        small = client.get(_url(incident)).content.decode()
    assert _position(small) == "All 3 changes"
    _edit(incident, responder, 297, prefix="More")
    with django_assert_num_queries(14):
        first = client.get(_url(incident)).content.decode()
    assert _position(first) == "Changes 1-100 of 100+"
    with django_assert_num_queries(15):  # and each object's change before the page
        second = client.get(_next(first)).content.decode()
    assert _position(second) == "Changes 101-200 of 200+"
    with django_assert_num_queries(15):
        last = client.get(_next(second)).content.decode()
    assert _position(last) == "Changes 201-300 of 300"
    assert len(first.encode()) < 120_000
