"""The pickers' JSON searches: /search/people/ and /search/services/."""

import pytest
from django.test import override_settings
from django.urls import reverse

from common.search import SEARCH_QUERY_MAX, SEARCH_RESULTS_MAX
from tests.factories.incidents import IncidentFactory, ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db

PEOPLE = reverse("search-people")
SERVICES = reverse("search-services")


def _keys(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [result["key"] for result in response.json()["results"]]


def test_people_are_found_by_username_first_or_last_name(client, viewer):
    UserFactory(username="sam", first_name="Samantha", last_name="Okafor")
    UserFactory(username="okoro", first_name="Ade", last_name="Okoro")
    UserFactory(username="zed", first_name="Zed", last_name="Quist")
    client.force_login(viewer)

    assert _keys(client.get(PEOPLE, {"q": "oka"})) == ["sam"]
    assert set(_keys(client.get(PEOPLE, {"q": "ok"}))) == {"sam", "okoro"}
    assert _keys(client.get(PEOPLE, {"q": "samantha okafor"})) == ["sam"]
    body = client.get(PEOPLE, {"q": "sam"}).json()
    assert body["results"][0] == {
        "id": body["results"][0]["id"],
        "key": "sam",
        "label": "Samantha Okafor (sam)",
        "detail": "",
    }


def test_a_username_starting_with_the_query_comes_first(client, viewer):
    UserFactory(username="bob", first_name="Annabel", last_name="Xu")
    UserFactory(username="anna", first_name="Anna", last_name="Berg")
    client.force_login(viewer)

    assert _keys(client.get(PEOPLE, {"q": "ann"})) == ["anna", "bob"]


def test_inactive_people_are_never_offered(client, viewer):
    UserFactory(username="gone", first_name="Gone", is_active=False)
    UserFactory(username="gonzo", first_name="Gonzo")
    client.force_login(viewer)

    assert _keys(client.get(PEOPLE, {"q": "gon"})) == ["gonzo"]
    assert "gone" not in _keys(client.get(PEOPLE))


def test_role_driver_offers_responders_and_admins_only(client, responder, viewer, admin_user):
    client.force_login(responder)

    keys = _keys(client.get(PEOPLE, {"role": "driver"}))

    assert "rita" in keys and "ada" in keys
    assert "victor" not in keys


def test_at_most_twenty_results(client, viewer):
    UserFactory.create_batch(SEARCH_RESULTS_MAX + 5, first_name="Many")
    ServiceFactory.create_batch(SEARCH_RESULTS_MAX + 5)
    client.force_login(viewer)

    assert len(_keys(client.get(PEOPLE, {"q": "many"}))) == SEARCH_RESULTS_MAX
    assert len(_keys(client.get(SERVICES, {"q": "service"}))) == SEARCH_RESULTS_MAX


@pytest.mark.parametrize("url", [PEOPLE, SERVICES])
def test_a_too_long_query_is_a_400_naming_q(client, viewer, url):
    client.force_login(viewer)

    response = client.get(url, {"q": "x" * (SEARCH_QUERY_MAX + 1)})

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "q": [f"Search: at most {SEARCH_QUERY_MAX} characters (this has {SEARCH_QUERY_MAX + 1})."]
    }


@pytest.mark.parametrize("url", [PEOPLE, SERVICES])
@pytest.mark.parametrize("q", ["%", "_", "'; drop table--", "\u202e", "a" * SEARCH_QUERY_MAX])
def test_odd_queries_are_answered_not_crashed(client, viewer, url, q):
    client.force_login(viewer)

    response = client.get(url, {"q": q})

    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize("url", [PEOPLE, SERVICES])
def test_a_nul_in_the_query_is_refused_before_the_database(client, viewer, url):
    client.force_login(viewer)

    response = client.get(f"{url}?q=a%00b")

    assert response.status_code == 400


@pytest.mark.parametrize("url", [PEOPLE, SERVICES])
def test_signed_out_is_a_401_without_results(client, url):
    UserFactory(username="sam")

    response = client.get(url, {"q": "sam"})

    assert response.status_code == 401
    assert "results" not in response.json()


@pytest.mark.parametrize("url", [PEOPLE, SERVICES])
def test_only_get_is_allowed(client, viewer, url):
    client.force_login(viewer)

    assert client.post(url, {"q": "x"}).status_code == 405


def test_services_are_found_by_name_or_slug_with_their_team(client, viewer):
    ServiceFactory(name="Checkout API", slug="checkout-api", owner_team__name="Payments")
    ServiceFactory(name="Search", slug="search")
    client.force_login(viewer)

    body = client.get(SERVICES, {"q": "check"}).json()

    assert [(r["key"], r["label"], r["detail"]) for r in body["results"]] == [
        ("checkout-api", "Checkout API", "Payments")
    ]
    assert _keys(client.get(SERVICES, {"q": "checkout-a"})) == ["checkout-api"]


def test_a_service_search_tells_nothing_about_private_incidents(client, viewer):
    """Services are a catalogue: the answer is the same whether or not a private incident
    the reader may not see is on the service, and it never carries incident data."""
    vault = ServiceFactory(name="Vault", slug="vault")
    client.force_login(viewer)
    before = client.get(SERVICES, {"q": "vault"}).json()
    incident = IncidentFactory(private=True, title="Secret breach in vault")
    incident.services.add(vault)

    after = client.get(SERVICES, {"q": "vault"}).json()

    assert after == before
    assert "breach" not in str(after).lower()


def test_answers_are_cacheable_by_the_browser_only(client, viewer):
    client.force_login(viewer)

    response = client.get(SERVICES, {"q": ""})

    assert response["Cache-Control"] == "private, max-age=30"


@override_settings(KEEL_SEARCH_RATE_LIMIT=3)
def test_searches_are_rate_limited_per_user(client, viewer, responder):
    client.force_login(viewer)
    for _ in range(3):
        assert client.get(PEOPLE, {"q": "a"}).status_code == 200

    refused = client.get(PEOPLE, {"q": "a"})

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    client.force_login(responder)
    assert client.get(PEOPLE, {"q": "a"}).status_code == 200


def test_search_costs_a_fixed_number_of_queries(client, viewer, django_assert_max_num_queries):
    UserFactory.create_batch(30, first_name="Many")
    client.force_login(viewer)

    # Session, user (with its profile), the search.
    with django_assert_max_num_queries(3):
        client.get(PEOPLE, {"q": "many"})
