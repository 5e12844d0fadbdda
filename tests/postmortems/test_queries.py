"""Rendering a postmortem costs a fixed number of SQL queries, however big it is."""

import pytest
from django.test import Client

from tests.factories.incidents import UserFactory
from tests.factories.postmortems import big_postmortem, started_postmortem

pytestmark = pytest.mark.django_db

EDITOR_QUERIES = 14  # 13 + the main author, read from the history of content saves
PRINT_QUERIES = 10
API_QUERIES = 9


def _count(django_assert_max_num_queries, client, url, limit):
    with django_assert_max_num_queries(limit) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_big_postmortem_renders_in_a_fixed_number_of_queries(django_assert_max_num_queries):
    rita = UserFactory(username="rita", role="responder")
    small = started_postmortem(actor=rita)
    big = big_postmortem(actor=rita)
    assert len(big.sections.get(key="timeline").content["rows"]) >= 200
    assert big.action_items.count() == 50
    assert len(big.sections.get(key="metrics").content["rows"]) == 20
    client = Client()
    client.force_login(rita)
    for url, limit in [
        ("/postmortems/{}/", EDITOR_QUERIES),
        ("/postmortems/{}/print/", PRINT_QUERIES),
        ("/postmortems/{}/export.md", PRINT_QUERIES),
    ]:
        small_count = _count(django_assert_max_num_queries, client, url.format(small.pk), limit)
        big_count = _count(django_assert_max_num_queries, client, url.format(big.pk), limit)
        assert big_count == small_count, url
    page = client.get(f"/postmortems/{big.pk}/").content.decode()
    assert page.count('class="metric-chart"') == 20
    assert page.count('class="pm-row') >= 200 + 50


def test_api_document_in_a_fixed_number_of_queries(django_assert_max_num_queries, as_user):
    rita = UserFactory(username="rita", role="responder")
    small = started_postmortem(actor=rita)
    big = big_postmortem(actor=rita)
    client = as_user(rita)
    client.get("/api/v1/postmortems/")  # a token's first request also records its last use
    counts = [
        _count(django_assert_max_num_queries, client, f"/api/v1/postmortems/{pm.pk}/", API_QUERIES)
        for pm in (small, big)
    ]
    assert counts[0] == counts[1]
