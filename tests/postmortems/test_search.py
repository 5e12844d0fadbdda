import pytest
from django.conf import settings

from postmortems import selectors, services
from tests.factories.incidents import UserFactory
from tests.factories.postmortems import recovered_incident, started_postmortem

pytestmark = pytest.mark.django_db


@pytest.fixture
def documents(db):
    rita = UserFactory(username="rita", role="responder")
    pool = started_postmortem(actor=rita, incident=recovered_incident(actor=rita, title="Checkout"))
    services.section_save(
        postmortem=pool,
        key="root_cause",
        content={"text": "The database connection pools were exhausted by retries."},
        expected_version=1,
        actor=rita,
    )
    dns = started_postmortem(
        actor=rita, incident=recovered_incident(actor=rita, title="DNS outage")
    )
    services.action_item_create(
        postmortem=dns, actor=rita, data={"title": "Lower the resolver TTL"}
    )
    return rita, pool, dns


def _search(user, query):
    return list(selectors.postmortem_list(user=user, search=query))


def test_fallback_search_matches_every_word_case_insensitively(documents):
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        pytest.skip("the substring fallback runs on SQLite")
    rita, pool, dns = documents
    assert _search(rita, "CONNECTION pools") == [pool]
    assert _search(rita, "resolver") == [dns]  # action items are searchable
    assert _search(rita, "dns") == [dns]  # titles too
    assert _search(rita, "connection resolver") == []


def test_postgres_full_text_search_stems_and_ranks(documents, postgres_only):
    rita, pool, dns = documents
    # Stemming: "pool" finds "pools", "exhaust" finds "exhausted".
    assert _search(rita, "pool exhaust") == [pool]
    assert _search(rita, "resolver") == [dns]
    assert _search(rita, "dns") == [dns]
    assert _search(rita, "database -retries") == []  # websearch syntax
    assert _search(rita, '"connection pools"') == [pool]


def test_search_respects_private_incidents(documents):
    from incidents import services as incident_services

    rita, pool, _ = documents
    incident_services.incident_update(incident=pool.incident, actor=rita, data={"private": True})
    outsider = UserFactory(username="olga", role="responder")
    assert _search(outsider, "exhausted") == []
    assert _search(rita, "exhausted") == [pool]
