"""The Communications tab per role: post an update, see deliveries, replay, banners."""

import re

import pytest

from incidents import services as incident_services
from notifications import services
from notifications.models import ChannelPause, Delivery, Destination, StatusUpdate
from tests.factories.incidents import UserFactory, severity
from tests.factories.notifications import DestinationFactory, audience

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(responder):
    DestinationFactory(
        audience=audience("responders"),
        kind=Destination.Kind.EMAIL,
        name="oncall list",
        target="oncall@example.test",
    )
    return incident_services.incident_declare(
        title="Logins fail", severity=severity("SEV3"), actor=responder
    )


def page(incident) -> str:
    return f"/incidents/{incident.pk}/communications/"


def test_responder_posts_an_update_from_the_form(client, responder, incident):
    client.force_login(responder)

    response = client.post(
        page(incident) + "updates/",
        {
            "message": "Rolling back the auth deploy.",
            "audiences": ["responders"],
            "next_update_in": "30",
        },
    )

    assert response.status_code == 302
    update = StatusUpdate.objects.get(kind="manual")
    assert update.message == "Rolling back the auth deploy."
    assert update.next_update_at is not None
    body = client.get(page(incident)).content.decode()
    assert "Rolling back the auth deploy." in body and "oncall list" in body
    # A duration, not a raw timedelta (seconds after the fixture declared the incident).
    assert re.search(r"first update after \d+s\b", body)


def test_htmx_post_returns_the_region_and_errors_name_the_field(client, responder, incident):
    client.force_login(responder)

    response = client.post(
        page(incident) + "updates/",
        {"message": "x" * 4001},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 400
    body = response.content.decode()
    assert body.lstrip().startswith("{#") or 'id="communications"' in body
    assert "at most 4000 characters" in body and "Tick at least one audience" in body
    assert StatusUpdate.objects.filter(kind="manual").count() == 0


def test_first_public_update_without_a_title_is_refused_in_the_form(client, responder, incident):
    client.force_login(responder)
    response = client.post(
        page(incident) + "updates/",
        {"message": "We are on it.", "audiences": ["public"], "public_status": "investigating"},
    )
    assert response.status_code == 400
    assert "needs a public title" in response.content.decode()


def test_viewer_reads_but_cannot_post_or_replay(client, viewer, responder, incident):
    update = services.update_post(incident=incident, message="Hi.", actor=responder)
    delivery = update.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.DEAD)
    client.force_login(viewer)

    body = client.get(page(incident)).content.decode()
    assert "Post a status update" not in body and "Replay" not in body
    assert client.post(page(incident) + "updates/", {"message": "x"}).status_code == 403
    replay = client.post(page(incident) + f"deliveries/{delivery.pk}/replay/")
    assert replay.status_code == 403


def test_replay_button_and_unreached_banner(client, responder, incident):
    update = services.update_post(incident=incident, message="Hi.", actor=responder)
    delivery = update.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.DEAD, last_error="HTTP 500 from mail relay"
    )
    client.force_login(responder)

    overview = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Not reached:" in overview and "Responders" in overview
    assert "HTTP 500 from mail relay" in client.get(page(incident)).content.decode()

    response = client.post(page(incident) + f"deliveries/{delivery.pk}/replay/")

    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert "Not reached:" not in client.get(f"/incidents/{incident.pk}/").content.decode()


def test_the_banner_reads_a_bounded_number_of_deliveries(client, responder, incident, monkeypatch):
    from notifications.templatetags import communications

    for n in range(3):
        services.update_post(incident=incident, message=f"Update {n}", actor=responder)
    dead = Delivery.objects.filter(update__incident=incident).update(
        status=Delivery.Status.DEAD, last_error="HTTP 500 from mail relay"
    )
    monkeypatch.setattr(communications, "BANNER_DELIVERIES", 2)
    client.force_login(responder)

    overview = client.get(f"/incidents/{incident.pk}/").content.decode()

    assert "Not reached:" in overview and "(2 deliveries)" in overview
    assert "data-more-problems" in overview
    monkeypatch.setattr(communications, "BANNER_DELIVERIES", 200)
    overview = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f"({dead} deliveries)" in overview and "data-more-problems" not in overview


def test_a_paused_channel_is_shown_on_the_incident_page(client, responder, incident):
    from django.utils import timezone

    ChannelPause.objects.create(kind="slack", reason="Slack invalid_auth", paused_at=timezone.now())
    client.force_login(responder)
    body = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Slack channel is paused" in body and "invalid_auth" in body


def test_private_incident_communications_are_hidden(client, responder):
    incident = incident_services.incident_declare(
        title="Secret", severity=severity("SEV3"), actor=responder, private=True
    )
    outsider = UserFactory(role="responder")
    client.force_login(outsider)
    assert client.get(page(incident)).status_code == 404
    assert client.post(page(incident) + "updates/", {"message": "x"}).status_code == 404


def test_communications_page_query_count_is_bounded(
    client, responder, incident, django_assert_max_num_queries
):
    for n in range(3):
        services.update_post(incident=incident, message=f"Update {n}", actor=responder)
    client.force_login(responder)
    with django_assert_max_num_queries(30) as few:
        client.get(page(incident))
    for n in range(20):
        services.update_post(incident=incident, message=f"More {n}", actor=responder)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(page(incident))
