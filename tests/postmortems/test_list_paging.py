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


def test_the_unfiltered_action_items_page_counts_with_completion_by_team(
    client, responder, settings
):
    """Unfiltered, the page's count is the completion scan's (won't-do items included),
    capped like any list's; filtered, it counts the filter's rows."""
    from incidents.models import Team
    from postmortems.models import ActionItem

    made = _make(3, responder)
    platform = Team.objects.create(name="Platform", slug="platform")
    apps = Team.objects.create(name="Apps", slug="apps")
    items = list(ActionItem.objects.filter(postmortem__in=made).order_by("pk"))
    ActionItem.objects.filter(pk__in=[items[0].pk, items[1].pk]).update(team=platform)
    ActionItem.objects.filter(pk=items[2].pk).update(team=apps, status="wont_do")
    ActionItem.objects.filter(pk=items[3].pk).update(team=apps, status="done")
    client.force_login(responder)

    page = client.get("/postmortems/action-items/")
    assert page.context["page"].count == 6 and not page.context["page"].count_capped
    assert [(row.team, row.total, row.done) for row in page.context["completion"]] == [
        ("Apps", 1, 1),
        ("Platform", 2, 0),
        ("No team", 2, 0),
    ]
    filtered = client.get("/postmortems/action-items/?status=wont_do")
    assert filtered.context["page"].count == 1

    settings.KEEL_LIST_COUNT_CAP = 4
    page = client.get("/postmortems/action-items/")
    assert page.context["page"].count == 4 and page.context["page"].count_capped
    assert "4+ action items" in page.content.decode()
