"""The pickers' server side: each people/service select carries its search, and stays
a plain select that works without JavaScript."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories.common import with_time_zone
from tests.factories.incidents import IncidentFactory, ServiceFactory, UserFactory
from tests.factories.postmortems import started_postmortem

pytestmark = pytest.mark.django_db


def _select_tag(page: str, name: str) -> str:
    match = re.search(rf'<select name="{re.escape(name)}"[^>]*>', page)
    assert match, f"no select {name}"
    return match.group(0)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_declare_form_picks_services_through_the_search(responder):
    ServiceFactory(name="Checkout", slug="checkout")

    page = _client(responder).get(reverse("incidents:declare")).content.decode()

    tag = _select_tag(page, "services")
    assert 'data-typeahead="multiple"' in tag
    assert re.search(r"\smultiple[\s>]", tag)  # still a native multi-select
    assert 'data-typeahead-source="/search/services/"' in tag
    assert 'data-typeahead-key="id"' in tag
    assert ">Checkout</option>" in page  # the native fallback keeps every option


def test_the_role_and_filter_pickers_name_their_searches(responder):
    incident = IncidentFactory(created_by=responder)
    client = _client(responder)

    # The role form is fetched when its disclosure opens: its own URL answers with it.
    role_form = client.get(reverse("incidents:role_assign", args=[incident.pk]))
    listing = client.get(reverse("incidents:list")).content.decode()

    role_user = _select_tag(role_form.content.decode(), "role-user")
    assert 'data-typeahead="single"' in role_user
    assert 'data-typeahead-source="/search/people/"' in role_user
    service = _select_tag(listing, "service")
    assert 'data-typeahead-source="/search/services/"' in service
    assert 'data-typeahead-key="key"' in service


def test_reviewers_are_searched_among_drivers_by_username(responder):
    postmortem = started_postmortem(actor=responder)
    UserFactory(username="bob", role="responder")

    page = _client(responder).get(f"/postmortems/{postmortem.pk}/").content.decode()

    reviewers = _select_tag(page, "reviewers")
    assert 'data-typeahead="multiple"' in reviewers
    assert 'data-typeahead-source="/search/people/?role=driver"' in reviewers
    assert 'data-typeahead-key="key"' in reviewers
    # Owner suggestions come from the search as one types: no page embeds every user.
    assert '<datalist id="pm-users" data-people-source="/search/people/"></datalist>' in page


def test_a_maintenance_window_is_entered_in_the_readers_zone(admin_user):
    with_time_zone(admin_user, "Asia/Seoul")

    page = _client(admin_user).get(reverse("maintenance:schedule")).content.decode()

    assert "Starts (Asia/Seoul)" in page
    assert "Times are in Asia/Seoul" in page
