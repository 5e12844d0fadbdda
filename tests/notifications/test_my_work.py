"""/me/ ("My work") and /me/notifications/ (preferences): what each shows, the one
write with its history, field-named errors, and a fixed number of queries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from common.exceptions import InvalidInput, NotAllowed
from incidents import services as incident_services
from notifications import my_work, preferences
from notifications.models import NoticeKind, NotificationPreference
from postmortems import services as pm_services
from tests.factories.incidents import UserFactory, severity
from tests.factories.notifications import NotificationPreferenceFactory
from tests.factories.postmortems import started_postmortem

pytestmark = pytest.mark.django_db


@pytest.fixture
def rita(db):
    return UserFactory(username="rita", role="responder")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", role="responder")


# --- preferences ------------------------------------------------------------------------


def test_defaults_without_rows_and_slack_dm_falls_back_to_email(bob, settings):
    settings.SLACK_BOT_TOKEN = "xoxb-test"
    assert preferences.preferences_for(bob) == preferences.DEFAULT_CHANNELS
    assert preferences.channel_for(bob, NoticeKind.ROLE_ASSIGNED) == "slack_dm"
    settings.SLACK_BOT_TOKEN = ""
    assert preferences.channel_for(bob, NoticeKind.ROLE_ASSIGNED) == "email"
    NotificationPreferenceFactory(user=bob, kind=NoticeKind.ROLE_ASSIGNED, channel="none")
    assert preferences.channel_for(bob, NoticeKind.ROLE_ASSIGNED) == "none"


def test_setting_preferences_writes_history_with_the_actor(bob):
    changed = preferences.notification_preferences_set(
        user=bob,
        channels={NoticeKind.ACTION_ITEM_DUE: "slack_dm", NoticeKind.REVIEW_REQUESTED: "email"},
        actor=bob,
    )
    assert changed == [NoticeKind.ACTION_ITEM_DUE]  # the other one is the default already
    row = NotificationPreference.objects.get(user=bob)
    (history,) = row.history.all()
    assert history.history_user == bob
    assert history.history_change_reason == (
        "My action item is due within 24 hours: Slack direct message"
    )
    assert (
        preferences.notification_preferences_set(
            user=bob, channels={NoticeKind.ACTION_ITEM_DUE: "slack_dm"}, actor=bob
        )
        == []
    )


def test_bad_preferences_name_their_field(bob, rita):
    with pytest.raises(InvalidInput) as error:
        preferences.notification_preferences_set(
            user=bob, channels={NoticeKind.UPDATE_DUE: "pigeon"}, actor=bob
        )
    assert error.value.field == "update_due"
    assert error.value.message.startswith("An update I owe as communications lead is due: choose")
    with pytest.raises(InvalidInput) as error:
        preferences.notification_preferences_set(user=bob, channels={"nope": "email"}, actor=bob)
    assert error.value.field == "nope"
    with pytest.raises(NotAllowed):
        preferences.notification_preferences_set(
            user=bob, channels={NoticeKind.UPDATE_DUE: "none"}, actor=rita
        )


def test_preferences_page_saves_and_refuses_bad_input(client, bob):
    client.force_login(bob)
    page = client.get("/me/notifications/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "I am asked to review a postmortem" in body and 'value="slack_dm"' in body
    data = {kind: preferences.DEFAULT_CHANNELS[kind] for kind in NoticeKind.values}
    data[NoticeKind.ACTION_ITEM_OVERDUE] = "none"
    saved = client.post("/me/notifications/", data)
    assert saved.status_code == 302 and saved["Location"] == "/me/notifications/"
    assert preferences.preferences_for(bob)[NoticeKind.ACTION_ITEM_OVERDUE] == "none"
    data[NoticeKind.ACTION_ITEM_OVERDUE] = "x" * 5000
    refused = client.post("/me/notifications/", data)
    assert refused.status_code == 400
    assert "My action item is overdue (once a day): choose one of" in refused.content.decode()
    assert preferences.preferences_for(bob)[NoticeKind.ACTION_ITEM_OVERDUE] == "none"


def test_me_pages_need_a_login(client):
    for path in ("/me/", "/me/notifications/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


# --- My work ----------------------------------------------------------------------------


def _world(rita, bob, n: int) -> None:
    """``n`` incidents where bob holds roles, action items of his, reviews for him."""
    pm = started_postmortem(actor=rita)
    today = timezone.localdate()
    for i in range(n):
        incident = incident_services.incident_declare(
            title=f"Incident {i}", severity=severity("SEV3"), actor=rita
        )
        role = ["communications_lead", "scribe", "responder"][i % 3]
        incident_services.incident_assign_role(incident=incident, role=role, user=bob, actor=rita)
        pm_services.action_item_create(
            postmortem=pm,
            actor=rita,
            data={"title": f"Item {i}", "owner": "bob", "due_date": today + timedelta(days=i - 1)},
        )


def test_my_work_shows_what_is_mine(client, rita, bob):
    _world(rita, bob, 3)
    secret = incident_services.incident_declare(
        title="Not for bob", severity=severity("SEV1"), actor=rita, private=True
    )
    work = my_work.my_work(user=bob)
    assert [row.roles for row in work["incidents"]] == [
        ["Responder"],
        ["Scribe"],
        ["Communications lead"],
    ]
    assert secret.pk not in [row.incident.pk for row in work["incidents"]]
    items = work["action_items"]
    assert [row.item.title for row in items] == ["Item 0", "Item 1", "Item 2"]
    assert [(row.overdue, row.due_today) for row in items] == [
        (True, False),
        (False, True),
        (False, False),
    ]
    (owed,) = work["updates_owed"]
    assert owed.incident.title == "Incident 0" and not owed.promised
    # The severity's interval after the last update (the automatic "declared" one).
    interval = timedelta(minutes=owed.incident.severity.update_interval_minutes)
    declared = owed.incident.status_updates.get(kind="declared")
    assert owed.due_at == declared.created_at + interval
    client.force_login(bob)
    body = client.get("/me/").content.decode()
    assert "Incidents where I hold a role" in body and "Overdue" in body
    assert 'href="/postmortems/reviews/"' in body and ">My work</a>" in body


def _queries_for(client, user) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/me/").status_code == 200
    return len(queries)


def test_my_work_makes_the_same_number_of_queries_for_3_and_30_rows(
    client, rita, bob, django_assert_max_num_queries
):
    _world(rita, bob, 3)
    few = _queries_for(client, bob)
    carl = UserFactory(username="carl", role="responder")
    _world(rita, carl, 30)
    many = _queries_for(client, carl)
    assert few == many
    with django_assert_max_num_queries(12):
        client.get("/me/")
