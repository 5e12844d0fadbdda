"""The postmortem and action item lists at scale (issue 17): a fixed number of
queries for 3 or 300 rows, keyset cursors, a capped count."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common.api import COUNT_CAPPED_HEADER
from tests.factories.incidents import UserFactory, incidents_bulk
from tests.factories.postmortems import postmortems_bulk

pytestmark = pytest.mark.django_db
URLS = [
    "/postmortems/",
    "/postmortems/?status=draft",
    "/postmortems/?q=checkout",
    "/postmortems/action-items/",
    "/api/v1/postmortems/",
    "/api/v1/postmortems/?search=checkout",
    "/api/v1/action-items/",
    "/api/v1/action-items/?page=2&page_size=2",
]


def _queries(client, url) -> int:
    client.get(url)  # a token's first request in a minute also records its use
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.content[:300])
    return len(captured.captured_queries)


def _make(count, author):
    return postmortems_bulk(incidents_bulk(count, created_by=author), created_by=author, items=2)


@pytest.mark.parametrize("role", ["responder", "viewer"])
def test_the_lists_cost_the_same_for_3_and_300_postmortems(client, as_user, role):
    user = UserFactory(username=f"the-{role}", role=role)
    author = UserFactory(username="author", role="responder")
    client.force_login(user)
    api = as_user(user)

    def counts():
        return {url: _queries(api if url.startswith("/api/") else client, url) for url in URLS}

    _make(3, author)
    few = counts()
    _make(297, author)
    many = counts()
    assert many == few
    deep = api.get("/api/v1/postmortems/").json()["next"]
    assert _queries(api, deep) == few["/api/v1/postmortems/"]


def test_postmortem_cursors_walk_every_row_once(as_user, responder):
    made = _make(11, responder)
    client = as_user(responder)
    seen, url = [], "/api/v1/postmortems/?page_size=4"
    while url:
        body = client.get(url).json()
        seen.extend(row["id"] for row in body["results"])
        url = body["next"]
        if url:
            _make(1, responder)  # newer: not on the pages still to come
    assert sorted(seen) == sorted(pm.pk for pm in made) and len(seen) == len(set(seen))


def test_the_action_item_count_is_capped(as_user, responder, settings):
    settings.KEEL_LIST_COUNT_CAP = 4
    _make(3, responder)
    response = as_user(responder).get("/api/v1/action-items/?page_size=2")
    assert response.json()["count"] == 4 and response[COUNT_CAPPED_HEADER] == "true"
    assert "page=2" in response.json()["next"]
