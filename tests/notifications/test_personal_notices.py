"""Personal notices: each producer, the preference, dedupe, the daily cap, private
incidents, and the Slack DM adapter against the fake Slack (lookup by email,
the cached id, ``users_not_found``, exactly once)."""

import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from incidents import services as incident_services
from notifications import outbox, services
from notifications.models import (
    Delivery,
    Destination,
    NoticeKind,
    PersonalNotice,
    SlackUserLink,
    StatusUpdate,
)
from notifications.personal import personal_notice_post
from postmortems import reminders, review
from postmortems import services as pm_services
from tests.factories.incidents import UserFactory, severity
from tests.factories.notifications import NotificationPreferenceFactory
from tests.factories.postmortems import started_postmortem
from tests.fakes.slack import Fault

pytestmark = pytest.mark.django_db
Outcome = PersonalNotice.Outcome


@pytest.fixture
def rita(db):
    return UserFactory(username="rita", role="responder")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", role="responder")


@pytest.fixture
def incident(rita):
    return incident_services.incident_declare(
        title="Checkout 502s", severity=severity("SEV2"), actor=rita
    )


def personal_deliveries(user):
    return Delivery.objects.filter(destination__user=user).select_related("destination")


def send(delivery: Delivery) -> outbox.AttemptResult:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    return outbox.delivery_attempt(delivery.pk)


# --- producers -----------------------------------------------------------------------


def test_role_assigned_tells_the_person_by_slack_dm(incident, rita, bob, fake_slack):
    fake_slack.add_user("UBOB", bob.email)
    incident_services.incident_assign_role(incident=incident, role="scribe", user=bob, actor=rita)
    notice = PersonalNotice.objects.get(user=bob)
    assert (notice.kind, notice.outcome, notice.channel) == ("role_assigned", "queued", "slack_dm")
    (delivery,) = personal_deliveries(bob)
    assert delivery.destination.kind == Destination.Kind.SLACK
    assert delivery.update.kind == "personal" and delivery.update.incident == incident
    assert send(delivery).status == Delivery.Status.SENT
    (dm,) = fake_slack.dms("UBOB")
    assert dm["text"].startswith(f"You are scribe on SEV2 #{incident.pk}")
    assert dm["metadata"]["event_payload"]["delivery_id"] == str(delivery.pk)
    link = SlackUserLink.objects.get(user=bob)
    assert link.slack_user_id == "UBOB" and link.email == bob.email


def test_nobody_is_told_what_they_did_themselves(incident, rita):
    incident_services.incident_assign_role(incident=incident, role="scribe", user=rita, actor=rita)
    assert not PersonalNotice.objects.exists()
    assert not personal_deliveries(rita).exists()


def test_declaring_with_someone_else_as_commander_tells_them(rita, bob, settings):
    settings.SLACK_BOT_TOKEN = ""  # Slack not configured: the Slack DM goes by email
    incident = incident_services.incident_declare(
        title="Search down", severity=severity("SEV3"), actor=rita, commander=bob
    )
    notice = PersonalNotice.objects.get(user=bob, kind=NoticeKind.ROLE_ASSIGNED)
    assert notice.channel == "email" and notice.incident == incident
    (delivery,) = personal_deliveries(bob)
    assert delivery.destination.kind == Destination.Kind.EMAIL
    assert send(delivery).status == Delivery.Status.SENT
    assert mail.outbox[-1].to == [bob.email]
    assert (
        mail.outbox[-1].subject
        == f"#{incident.pk} You are incident commander on SEV3 #{incident.pk}"
    )


def test_action_item_assigned_by_email_once(rita, bob, django_capture_on_commit_callbacks):
    pm = started_postmortem(actor=rita)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        item = pm_services.action_item_create(
            postmortem=pm, actor=rita, data={"title": "Add a canary", "owner": "bob"}
        )
    assert callbacks  # the send is enqueued on commit
    (delivery,) = personal_deliveries(bob)
    assert delivery.destination.kind == Destination.Kind.EMAIL
    assert "Action item for you: “Add a canary”" in delivery.rendered_text
    # Editing it again (same owner) tells nobody; the same day again neither.
    pm_services.action_item_update(item=item, actor=rita, data={"priority": "P1"})
    services.action_item_assigned_notify(item=item, actor=rita)
    assert personal_deliveries(bob).count() == 1
    assert send(delivery).status == Delivery.Status.SENT
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [bob.email]


def test_action_item_owner_changed_in_the_editor_is_told(rita, bob):
    pm = started_postmortem(actor=rita)
    key = pm.sections.get(kind="action_items").key
    rows = [{"title": "Alert on 5xx", "owner": "bob", "due_date": "2030-01-01"}]
    pm_services.section_save(
        postmortem=pm, key=key, content={"rows": rows}, expected_version=pm.version, actor=rita
    )
    notice = PersonalNotice.objects.get(user=bob)
    assert notice.kind == NoticeKind.ACTION_ITEM_ASSIGNED and notice.outcome == Outcome.QUEUED


def test_review_requested_follows_the_reviewers_preference(rita, bob, fake_slack):
    NotificationPreferenceFactory(user=bob, kind=NoticeKind.REVIEW_REQUESTED, channel="slack_dm")
    fake_slack.add_user("UBOB", bob.email)
    pm = started_postmortem(actor=rita)
    options = [
        {"id": o.pk, "title": o.title, "chosen": o.title == "Roll back", "reason": "Known good."}
        for o in pm.remediation_options.all()
    ]
    pm = pm_services.section_save(
        postmortem=pm,
        key="remediations",
        content={"rows": options},
        expected_version=pm.version,
        actor=rita,
    )
    review.postmortem_submit(postmortem=pm, actor=rita, reviewers=[bob])
    (delivery,) = personal_deliveries(bob)
    assert delivery.destination.kind == Destination.Kind.SLACK
    assert send(delivery).status == Delivery.Status.SENT
    assert fake_slack.dms("UBOB")[0]["text"].startswith("Review requested: postmortem")


def test_due_and_overdue_action_items_daily(rita, bob):
    pm = started_postmortem(actor=rita)
    today = timezone.localdate()
    due = pm_services.action_item_create(
        postmortem=pm, actor=rita, data={"title": "Due", "owner": "bob", "due_date": today}
    )
    late = pm_services.action_item_create(
        postmortem=pm,
        actor=rita,
        data={"title": "Late", "owner": "bob", "due_date": today - timedelta(days=3)},
    )
    pm_services.action_item_create(
        postmortem=pm,
        actor=rita,
        data={"title": "Later", "owner": "bob", "due_date": today + timedelta(days=2)},
    )
    assert reminders.action_items_due_notify(today=today) == 2
    assert reminders.action_items_due_notify(today=today) == 0  # the next beat run
    kinds = dict(
        PersonalNotice.objects.filter(
            day=today, about__in=[f"action_item:{due.pk}", f"action_item:{late.pk}"]
        ).values_list("about", "kind")
    )
    assert kinds == {
        f"action_item:{due.pk}": NoticeKind.ACTION_ITEM_DUE,
        f"action_item:{late.pk}": NoticeKind.ACTION_ITEM_OVERDUE,
    }
    # Tomorrow both are overdue: told again, once each.
    assert reminders.action_items_due_notify(today=today + timedelta(days=1)) == 2
    texts = [d.rendered_text for d in personal_deliveries(bob)]
    assert any(t.startswith("Your action item is overdue: “Late”") for t in texts)
    assert any(t.startswith("Your action item is due today: “Due”") for t in texts)


def test_update_due_tells_the_communications_lead(incident, rita, bob):
    incident_services.incident_assign_role(
        incident=incident, role="communications_lead", user=bob, actor=rita
    )
    later = incident.detected_at + timedelta(hours=3)
    assert services.cadence_remind(now=later) >= 1
    # The default routes address CS and the business team: one notice per audience due.
    notices = PersonalNotice.objects.filter(user=bob, kind=NoticeKind.UPDATE_DUE)
    assert {n.about.split(":")[2] for n in notices} == {"cs", "business"}
    assert {n.outcome for n in notices} == {Outcome.QUEUED}
    text = notices.get(about__contains=":cs:").update.message
    assert text.startswith(f"Update due: CS team on #{incident.pk}"), text
    services.cadence_remind(now=later + timedelta(minutes=1))  # the same missed due times
    assert notices.count() == 2


# --- preference, dedupe, cap, visibility -------------------------------------------------


def test_preference_none_tells_nothing(incident, rita, bob):
    NotificationPreferenceFactory(user=bob, kind=NoticeKind.ROLE_ASSIGNED, channel="none")
    incident_services.incident_assign_role(incident=incident, role="scribe", user=bob, actor=rita)
    assert PersonalNotice.objects.get(user=bob).outcome == Outcome.OFF
    assert not personal_deliveries(bob).exists()


def _notice(user, incident, about, **kwargs):
    return personal_notice_post(
        user=user,
        kind=NoticeKind.ACTION_ITEM_ASSIGNED,
        incident=incident,
        about=about,
        message="Action item for you\n\nbody",
        actor=None,
        **kwargs,
    )


def test_dedupe_key_is_person_kind_object_day(incident, bob):
    first = _notice(bob, incident, "action_item:1")
    assert first.outcome == Outcome.QUEUED
    assert _notice(bob, incident, "action_item:1") is None  # seen today: nothing new
    _notice(bob, incident, "action_item:2")
    _notice(bob, incident, "action_item:1", day=timezone.localdate() + timedelta(days=1))
    assert personal_deliveries(bob).count() == 3


def test_over_the_daily_cap_is_dropped_counted_and_logged(incident, bob, settings, caplog):
    settings.KEEL_PERSONAL_NOTICES_DAILY_CAP = 2
    with caplog.at_level(logging.WARNING, logger="notifications.personal"):
        outcomes = [_notice(bob, incident, f"action_item:{n}").outcome for n in range(4)]
    assert outcomes == [Outcome.QUEUED, Outcome.QUEUED, Outcome.CAPPED, Outcome.CAPPED]
    assert personal_deliveries(bob).count() == 2
    dropped = [r for r in caplog.records if "over the daily cap" in r.getMessage()]
    assert len(dropped) == 2 and dropped[0].about == "action_item:2"
    # Tomorrow the cap starts again.
    assert _notice(bob, incident, "x", day=timezone.localdate() + timedelta(days=1)).outcome == (
        Outcome.QUEUED
    )


def test_private_incident_is_never_told_to_someone_who_may_not_see_it(rita, bob):
    secret = incident_services.incident_declare(
        title="Credential leak", severity=severity("SEV1"), actor=rita, private=True
    )
    assert _notice(bob, secret, "action_item:9").outcome == Outcome.WITHHELD
    assert not personal_deliveries(bob).exists()
    # Given a role, bob is a participant: now he may be told.
    incident_services.incident_assign_role(incident=secret, role="scribe", user=bob, actor=rita)
    assert PersonalNotice.objects.get(user=bob, kind=NoticeKind.ROLE_ASSIGNED).outcome == (
        Outcome.QUEUED
    )


def test_a_notice_queued_before_the_person_lost_sight_is_skipped_at_send(rita, bob):
    pm = started_postmortem(actor=rita)
    pm_services.action_item_create(postmortem=pm, actor=rita, data={"title": "X", "owner": "bob"})
    incident_services.incident_update(incident=pm.incident, actor=rita, data={"private": True})
    (delivery,) = personal_deliveries(bob)
    assert send(delivery).status == Delivery.Status.SKIPPED
    assert mail.outbox == []


def test_no_email_address_is_unreachable(incident, rita):
    nomail = UserFactory(username="nomail", email="", role="responder")
    incident_services.incident_assign_role(
        incident=incident, role="scribe", user=nomail, actor=rita
    )
    assert PersonalNotice.objects.get(user=nomail).outcome == Outcome.UNREACHABLE


# --- the Slack DM adapter ---------------------------------------------------------------


def test_slack_user_id_is_cached_and_the_lookup_happens_in_the_worker(
    incident, rita, bob, fake_slack
):
    fake_slack.add_user("UBOB", bob.email)
    incident_services.incident_assign_role(incident=incident, role="scribe", user=bob, actor=rita)
    incident_services.incident_assign_role(
        incident=incident, role="communications_lead", user=bob, actor=rita
    )
    assert fake_slack.calls_to("users.lookupByEmail") == []  # the request asked nothing
    for delivery in personal_deliveries(bob):
        assert send(delivery).status == Delivery.Status.SENT
    assert len(fake_slack.calls_to("users.lookupByEmail")) == 1
    assert len(fake_slack.dms("UBOB")) == 2


def test_no_slack_user_for_the_email_is_a_clear_permanent_failure(incident, rita, bob, fake_slack):
    incident_services.incident_assign_role(incident=incident, role="scribe", user=bob, actor=rita)
    (delivery,) = personal_deliveries(bob)
    assert send(delivery).status == Delivery.Status.DEAD
    delivery.refresh_from_db()
    assert delivery.last_error == (
        f"No Slack user has the email {bob.email} (users.lookupByEmail: users_not_found)."
    )
    assert delivery.failure == "permanent"
    assert SlackUserLink.objects.get(user=bob).slack_user_id == ""


def test_a_retry_after_a_lost_answer_posts_the_dm_once(incident, rita, bob, fake_slack):
    fake_slack.add_user("UBOB", bob.email)
    fake_slack.fail_next("chat.postMessage", Fault(hang_seconds=2, apply_then_hang=True))
    incident_services.incident_assign_role(incident=incident, role="scribe", user=bob, actor=rita)
    (delivery,) = personal_deliveries(bob)
    assert send(delivery).status == Delivery.Status.FAILED
    assert send(delivery).status == Delivery.Status.SENT
    assert len(fake_slack.dms("UBOB")) == 1


def test_personal_updates_are_on_the_incident_deliveries_log(incident, rita, bob, client):
    incident_services.incident_assign_role(incident=incident, role="scribe", user=bob, actor=rita)
    update = StatusUpdate.objects.get(incident=incident, kind="personal")
    client.force_login(rita)
    page = client.get(f"/incidents/{incident.pk}/communications/")
    assert page.status_code == 200
    assert "bob (" in page.content.decode() and update.deliveries.count() == 1


def test_a_notice_about_a_private_incident_names_none_of_its_words(rita, bob):
    secret = incident_services.incident_declare(
        title="PRIVATE-TITLE", severity=severity("SEV1"), actor=rita, private=True
    )
    incident_services.incident_assign_role(incident=secret, role="scribe", user=bob, actor=rita)
    pm = pm_services.postmortem_start(incident=secret, actor=rita)
    pm_services.action_item_create(
        postmortem=pm, actor=rita, data={"title": "PRIVATE-ITEM", "owner": "bob"}
    )
    texts = [d.rendered_text + d.rendered_subject for d in personal_deliveries(bob)]
    assert len(texts) == 2  # the role and the action item: bob may see the incident
    assert texts[0].startswith(f"You are scribe on SEV1 #{secret.pk}")
    assert all("PRIVATE" not in text for text in texts), texts
    assert "Action item for you: (on a private incident)" in texts[1]
