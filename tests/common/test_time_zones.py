"""A per-user time zone: the preference, its page, and times shown in it (UTC on hover;
the API, exports and the public status page stay UTC)."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from common.exceptions import InvalidInput
from common.models import UserProfile
from common.profiles import user_profile_update, user_time_zone
from common.timezones import time_element
from incidents.models import Incident
from tests.factories.common import with_time_zone
from tests.factories.incidents import IncidentFactory, ServiceFactory, severity

pytestmark = pytest.mark.django_db

PREFERENCES = reverse("preferences")
# 2026-03-04 05:06 UTC is 14:06 in Seoul (UTC+9, no daylight saving time).
AT = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)


def test_a_user_without_a_profile_sees_utc(responder):
    assert user_time_zone(responder) == "UTC"
    assert not UserProfile.objects.filter(user=responder).exists()


def test_the_service_sets_the_zone_with_its_history_row(responder, admin_user):
    profile = user_profile_update(user=responder, time_zone="Asia/Seoul", actor=admin_user)

    assert profile.time_zone == "Asia/Seoul"
    record = profile.history.get()
    assert record.history_user == admin_user
    assert record.history_change_reason == "Time zone set to Asia/Seoul"
    user_profile_update(user=responder, time_zone="Europe/Paris", actor=responder)
    assert [h.time_zone for h in profile.history.order_by("history_date")] == [
        "Asia/Seoul",
        "Europe/Paris",
    ]


def test_setting_the_same_zone_again_writes_nothing(responder):
    user_profile_update(user=responder, time_zone="Asia/Seoul", actor=responder)
    user_profile_update(user=responder, time_zone="Asia/Seoul", actor=responder)

    assert UserProfile.history.filter(user=responder).count() == 1


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "asia/seoul", "../../etc/passwd", "x" * 500])
def test_an_unknown_zone_is_refused_naming_the_field(responder, name):
    with pytest.raises(InvalidInput) as refused:
        user_profile_update(user=responder, time_zone=name, actor=responder)

    assert refused.value.field == "time_zone"
    assert not UserProfile.objects.filter(user=responder).exists()


def test_the_preferences_page_sets_the_zone(client, viewer):
    client.force_login(viewer)
    page = client.get(PREFERENCES)
    assert page.status_code == 200
    assert 'data-typeahead="single"' in page.content.decode()

    response = client.post(PREFERENCES, {"time_zone": "Asia/Seoul"})

    assert response.status_code == 302
    assert user_time_zone(UserProfile.objects.get(user=viewer).user) == "Asia/Seoul"
    followed = client.get(PREFERENCES).content.decode()
    assert "Times are now shown in Asia/Seoul." in followed
    assert '<option value="Asia/Seoul" selected>' in followed


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "x" * 5000])
def test_a_bad_zone_on_the_page_is_a_400_with_the_field_named(client, viewer, name):
    client.force_login(viewer)

    response = client.post(PREFERENCES, {"time_zone": name})

    assert response.status_code == 400
    assert response.context["form"].errors["time_zone"]
    assert not UserProfile.objects.filter(user=viewer).exists()


def test_the_preferences_page_needs_a_sign_in(client):
    response = client.get(PREFERENCES)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_time_is_shown_in_seoul_with_utc_on_hover(client, responder):
    with_time_zone(responder, "Asia/Seoul")
    incident = IncidentFactory(detected_at=AT, started_at=AT, created_by=responder)
    client.force_login(responder)

    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()

    assert (
        '<time datetime="2026-03-04T05:06:00+00:00" title="2026-03-04 05:06 UTC">'
        '2026-03-04 14:06<span class="tz"> KST</span></time>'
    ) in page
    assert "2026-03-04 05:06<span" not in page


def test_a_utc_reader_sees_utc_as_before(client, responder):
    incident = IncidentFactory(detected_at=AT, started_at=AT, created_by=responder)
    client.force_login(responder)

    page = client.get(reverse("incidents:list")).content.decode()

    assert (
        '<time datetime="2026-03-04T05:06:00+00:00">2026-03-04 05:06<span class="tz"> UTC' in page
    )
    assert incident.title in page


def test_the_api_stays_utc_for_a_seoul_reader(client, responder):
    with_time_zone(responder, "Asia/Seoul")
    incident = IncidentFactory(detected_at=AT, started_at=AT, created_by=responder)
    client.force_login(responder)

    body = client.get(f"/api/v1/incidents/{incident.pk}/").json()

    assert body["started_at"] in ("2026-03-04T05:06:00Z", "2026-03-04T05:06:00+00:00")


def test_the_public_status_page_stays_utc_for_a_seoul_reader(client, responder):
    with_time_zone(responder, "Asia/Seoul")
    client.force_login(responder)

    response = client.get("/status/")

    assert response.status_code == 200
    assert " KST" not in response.content.decode()


def test_a_declared_start_is_read_in_the_readers_zone(client, responder):
    with_time_zone(responder, "Asia/Seoul")
    checkout = ServiceFactory()
    client.force_login(responder)
    form_page = client.get(reverse("incidents:declare")).content.decode()
    assert "Impact started (Asia/Seoul)" in form_page

    client.post(
        reverse("incidents:declare"),
        {
            "title": "Seoul start",
            "severity": severity("SEV2").pk,
            "services": [checkout.pk],
            "started_at": "2026-03-04T14:06:00",
            "detection_source": "internal",
        },
    )

    assert Incident.objects.get(title="Seoul start").started_at == AT


def test_the_zone_costs_no_query(client, responder, django_assert_num_queries):
    """The profile is joined to the session's user query (common.auth_backends)."""
    client.force_login(responder)
    client.get(PREFERENCES)
    with django_assert_num_queries(3) as without_profile:  # session, user, groups
        client.get(PREFERENCES)
    with_time_zone(responder, "Asia/Seoul")

    with django_assert_num_queries(len(without_profile.captured_queries)):
        page = client.get(PREFERENCES)

    assert "KST" in page.content.decode()


def test_the_zone_is_not_left_active_after_the_request(client, responder):
    with_time_zone(responder, "Asia/Seoul")
    client.force_login(responder)

    client.get(PREFERENCES)

    assert timezone.get_current_timezone_name() == "UTC"


def test_time_element_without_an_active_zone_is_plain_utc():
    assert time_element(AT) == (
        '<time datetime="2026-03-04T05:06:00+00:00">'
        '2026-03-04 05:06<span class="tz"> UTC</span></time>'
    )
    assert time_element(None) == "—"


def test_what_a_seoul_reader_prefills_or_exports_stays_utc(client, responder):
    """Pre-filled text is stored in the shared document and exports leave Keel: UTC."""
    from postmortems.models import Postmortem
    from tests.factories.postmortems import recovered_incident

    with_time_zone(responder, "Asia/Seoul")
    incident = recovered_incident(actor=responder)
    Incident.objects.filter(pk=incident.pk).update(started_at=AT)
    client.force_login(responder)

    client.post(f"/postmortems/start/{incident.pk}/")
    postmortem = Postmortem.objects.get(incident=incident)
    stored = str([section.content for section in postmortem.sections.all()])
    export = client.get(f"/postmortems/{postmortem.pk}/export.md").content.decode()

    assert "2026-03-04 05:06:00 UTC" in stored
    assert "KST" not in stored
    assert "KST" not in export


def test_a_zone_the_host_no_longer_knows_shows_utc_not_a_500(client, responder):
    with_time_zone(responder, "Asia/Seoul")
    # A tz database update can retire a name a profile still holds (no service writes it).
    UserProfile.objects.filter(user=responder).update(time_zone="Asia/Nowhere")
    incident = IncidentFactory(detected_at=AT, started_at=AT, created_by=responder)
    client.force_login(responder)

    response = client.get(reverse("incidents:detail", args=[incident.pk]))

    assert response.status_code == 200
    assert '2026-03-04 05:06<span class="tz"> UTC' in response.content.decode()
