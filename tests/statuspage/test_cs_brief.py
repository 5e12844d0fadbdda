"""The CS brief: login required, viewers allowed, customer wording, ready replies."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from incidents import services as incident_services
from notifications import services as notification_services
from statuspage.models import SupportBrief
from tests.factories.incidents import severity
from tests.statuspage.conftest import publish

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_login_required():
    response = Client().get("/cs/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_viewers_read_the_public_wording_workaround_and_a_reply(
    viewer, responder, incident, components
):
    publish(
        incident,
        responder,
        "Some card payments fail; retrying usually works.",
        public_title="Payment errors",
        components={"api": "partial_outage"},
        next_update_at=timezone.now() + timedelta(minutes=30),
    )
    SupportBrief.objects.create(incident=incident, workaround="Pay by bank transfer.")
    response = login(viewer).get("/cs/")
    assert response.status_code == 200
    body = response.content.decode()
    # static/js/live.js refreshes the items when they change (tests/incidents/test_live.py).
    assert 'data-live-target="#cs-items"' in body and 'data-live-state="/cs/live/"' in body
    assert '<noscript><meta http-equiv="refresh" content="60"></noscript>' in body
    assert 'data-copy="reply-' in body
    assert "Payment errors" in body
    assert "Some card payments fail; retrying usually works." in body
    assert "(latest public update)" in body
    assert "Pay by bank transfer." in body
    assert "Our next update is due by" in body
    assert "/status/incidents/" in body
    (item,) = response.context["items"]
    assert "API" in item.affected
    assert item.reply.startswith("Hi,") and "In the meantime: Pay by bank transfer." in item.reply


def test_signing_in_lands_cs_on_the_desk_and_responders_on_the_incidents(viewer, responder):
    assert login(viewer).get("/")["Location"] == "/cs/"
    assert login(responder).get("/")["Location"] == "/incidents/"


def test_the_desk_is_in_everyones_navigation(viewer, responder, admin_user):
    for user in (viewer, responder, admin_user):
        body = login(user).get("/postmortems/").content.decode()
        assert '<a href="/cs/">CS desk</a>' in body


def _reply_for(viewer):
    (item,) = login(viewer).get("/cs/").context["items"]
    return item.reply


def test_the_reply_follows_the_real_state_and_says_resolved_only_when_the_page_does(
    viewer, responder, incident, components
):
    publish(incident, responder, "Payments fail.", public_title="Payment errors")
    assert "our team is working on it" in _reply_for(viewer)

    incident_services.incident_move(incident=incident, to="recover", actor=responder)
    reply = _reply_for(viewer)
    assert "resolved" not in reply
    assert "A fix is in place and we are monitoring" in reply

    incident_services.incident_move(incident=incident, to="judge", actor=responder)
    assert "our team is working on it" in _reply_for(viewer)

    incident_services.incident_move(incident=incident, to="recover", actor=responder)
    publish(incident, responder, "Payments work again.", public_status="resolved")
    assert "it is resolved now" in _reply_for(viewer)


def test_not_yet_public_incidents_are_flagged(viewer, responder):
    incident = incident_services.incident_declare(
        title="Search slow", severity=severity("SEV3"), actor=responder
    )
    notification_services.update_post(
        incident=incident, message="Search is slow for some.", actor=responder, audiences=["cs"]
    )
    (item,) = login(viewer).get("/cs/").context["items"]
    assert item.public is None
    assert item.wording == "Search is slow for some."
    assert "not yet public" in item.wording_source


def test_private_incidents_stay_hidden_from_non_participants(viewer, responder):
    incident_services.incident_declare(
        title="Security thing", severity=severity("SEV2"), actor=responder, private=True
    )
    assert login(viewer).get("/cs/").context["items"] == []


def test_the_brief_makes_a_fixed_number_of_queries(
    viewer, responder, django_assert_max_num_queries
):
    def declare_with_update(n):
        incident = incident_services.incident_declare(
            title=f"Issue {n}", severity=severity("SEV3"), actor=responder
        )
        notification_services.update_post(
            incident=incident, message=f"Update {n}", actor=responder, audiences=["cs"]
        )

    client = login(viewer)
    declare_with_update(0)
    with django_assert_max_num_queries(40) as few:
        client.get("/cs/")
    for n in range(1, 8):
        declare_with_update(n)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/cs/")
    assert len(response.context["items"]) == 8
