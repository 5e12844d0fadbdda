"""The Slack conversation captured: the Events API endpoint with real signatures
(URL verification, refusals, dedup by event_id), and the worker task run
in-process against the fake Slack Web API (the marked message read through
slack-sdk, its author and time on the timeline, edits and deletions applied)."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from incidents import services as incident_services
from incidents.models import TimelineEvent
from notifications import tasks
from notifications.models import IncidentSlackChannel, SlackCapturedMessage, SlackEvent
from tests.factories.incidents import UserFactory, severity
from tests.fakes.slack import SIGNING_SECRET, Fault, slack_signature
from tests.fakes.slack_events import (
    message_changed,
    message_deleted,
    reaction_added,
    signed_json_post,
)

pytestmark = pytest.mark.django_db
EVENTS = "/integrations/slack/events/"
ROOM = "C0INC0042"
Kind = TimelineEvent.Kind


@pytest.fixture
def slack(fake_slack, settings):
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    fake_slack.add_channel(ROOM, "inc-1-checkout-is-failing")
    fake_slack.add_user("URITA", "rita@example.test", real_name="Rita Responder")
    fake_slack.add_user("UCARL", "carl@example.test", real_name="Carl Customer-Support")
    return fake_slack


@pytest.fixture
def enqueued(monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(
        tasks.slack_event_handle_task, "apply_async", lambda args, **_: queued.append(args[0])
    )
    return queued


@pytest.fixture
def incident(responder, slack):
    incident = incident_services.incident_declare(
        title="Checkout is failing", severity=severity("SEV2"), actor=responder
    )
    IncidentSlackChannel.objects.create(
        incident=incident,
        status=IncidentSlackChannel.Status.READY,
        name="inc-1-checkout-is-failing",
        channel_id=ROOM,
    )
    return incident


@pytest.fixture
def post(client, django_capture_on_commit_callbacks, enqueued):
    def send(payload: dict, **headers):
        with django_capture_on_commit_callbacks(execute=True):
            return signed_json_post(client, EVENTS, payload, **headers)

    return send


def run_queued(enqueued) -> list[str]:
    """Run the enqueued handling tasks in this process, as a worker would."""
    done = [tasks.slack_event_handle_task(slack_event_id) for slack_event_id in enqueued]
    enqueued.clear()
    return done


def captured_events(incident):
    return list(incident.events.filter(kind=Kind.SLACK_MESSAGE).order_by("occurred_at", "pk"))


# ---- the endpoint -------------------------------------------------------------


def test_url_verification_echoes_the_challenge(post, slack):
    response = post({"type": "url_verification", "token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV"})
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV"}


def _headers(body: bytes, *, secret=SIGNING_SECRET, age: int = 0) -> dict:
    timestamp = str(int(time.time()) - age)
    return {
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": timestamp,
        "HTTP_X_SLACK_SIGNATURE": slack_signature(secret=secret, timestamp=timestamp, body=body),
    }


CHALLENGE = b'{"type": "url_verification", "challenge": "abc"}'


@pytest.mark.parametrize(
    "headers",
    [
        {},
        _headers(CHALLENGE, secret="another-apps-secret"),
        _headers(CHALLENGE, age=3600),
        {**_headers(CHALLENGE), "HTTP_X_SLACK_SIGNATURE": "v0=" + "0" * 64},
    ],
    ids=["unsigned", "wrong secret", "stale", "forged"],
)
def test_unsigned_wrongly_signed_or_stale_requests_are_refused(client, slack, headers):
    response = client.post(EVENTS, data=CHALLENGE, content_type="application/json", **headers)
    assert response.status_code == 401
    assert response.json()["code"] == "bad_signature"


def test_without_a_signing_secret_nothing_is_accepted(client, settings):
    settings.SLACK_SIGNING_SECRET = ""
    response = signed_json_post(client, EVENTS, {"type": "url_verification", "challenge": "x"})
    assert response.status_code == 503


@pytest.mark.parametrize(
    "body", [b"not json", b"[1, 2]", b'{"type": "url_verification"}', b"[" * 300 + b"]" * 300]
)
def test_bad_bodies_are_a_400_not_a_500(client, slack, body):
    response = client.post(EVENTS, data=body, content_type="application/json", **_headers(body))
    assert response.status_code == 400


def test_events_keel_does_not_act_on_are_answered_and_dropped(post, incident, slack, enqueued):
    message = slack.add_message("just chatting", channel=ROOM, user="URITA")
    for payload in (
        reaction_added(channel=ROOM, ts=message["ts"], user="URITA", reaction="eyes"),
        reaction_added(channel="C0ELSEWHERE", ts=message["ts"], user="URITA"),
        message_changed(channel=ROOM, message=message),  # not a captured message
        {
            "type": "event_callback",
            "team_id": "T0KEEL",
            "event_id": "Ev1",
            "event": {"type": "app_mention"},
        },
        {"type": "app_rate_limited"},
    ):
        assert post(payload).status_code == 200
    assert not SlackEvent.objects.exists()
    assert enqueued == []


def test_a_retried_delivery_is_recorded_and_handled_once(post, incident, slack, enqueued):
    message = slack.add_message(
        "Error rate back to 0.2% after the rollback", channel=ROOM, user="UCARL"
    )
    payload = reaction_added(channel=ROOM, ts=message["ts"], user="URITA", event_id="Ev0AB12CD34")
    assert post(payload).status_code == 200
    assert (
        post(
            payload, HTTP_X_SLACK_RETRY_NUM="1", HTTP_X_SLACK_RETRY_REASON="http_timeout"
        ).status_code
        == 200
    )
    assert SlackEvent.objects.get().retries_seen == 1
    assert len(enqueued) == 1
    assert run_queued(enqueued) == ["done"]
    assert len(captured_events(incident)) == 1


def test_the_endpoint_calls_no_slack_method(post, incident, slack, enqueued):
    message = slack.add_message("m", channel=ROOM, user="URITA")
    before = len(slack.calls)
    post(reaction_added(channel=ROOM, ts=message["ts"], user="URITA"))
    assert len(slack.calls) == before
    assert len(enqueued) == 1


# ---- the capture through the fake Slack --------------------------------------


def test_a_marked_message_is_on_the_timeline_with_author_and_its_time(
    post, incident, slack, enqueued, responder, client
):
    posted_at = time.time() - 120
    message = slack.add_message(
        "Rolled back 2026.03.04-1, errors dropping", channel=ROOM, user="UCARL", at=posted_at
    )
    post(reaction_added(channel=ROOM, ts=message["ts"], user="URITA", item_user="UCARL"))
    assert run_queued(enqueued) == ["done"]

    [event] = captured_events(incident)
    assert event.text == "Rolled back 2026.03.04-1, errors dropping"
    assert event.source == TimelineEvent.Source.SLACK
    assert event.actor == responder  # who marked it
    assert event.data["author"] == "Carl Customer-Support"
    assert event.data["ts"] == message["ts"]
    assert abs(event.occurred_at.timestamp() - posted_at) < 0.001
    history = [call.method for call in slack.calls]
    assert "conversations.history" in history and "users.info" in history
    captured = SlackCapturedMessage.objects.get()
    assert captured.timeline_event == event and captured.marked_by_slack_id == "URITA"

    client.force_login(responder)
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "Rolled back 2026.03.04-1, errors dropping" in page
    assert "Carl Customer-Support" in page


def test_a_thread_reply_is_read_from_its_thread(post, incident, slack, enqueued):
    root = slack.add_message("What do we know?", channel=ROOM, user="URITA")
    reply = slack.add_message("DB failover done", channel=ROOM, user="UCARL", thread_ts=root["ts"])
    post(reaction_added(channel=ROOM, ts=reply["ts"], user="URITA"))
    assert run_queued(enqueued) == ["done"]
    [event] = captured_events(incident)
    assert event.text == "DB failover done" and event.data["thread_ts"] == root["ts"]
    assert slack.calls_to("conversations.replies")


def test_marked_twice_is_on_the_timeline_once(post, incident, slack, enqueued):
    message = slack.add_message("m", channel=ROOM, user="UCARL")
    post(reaction_added(channel=ROOM, ts=message["ts"], user="URITA"))
    post(reaction_added(channel=ROOM, ts=message["ts"], user="URITA"))
    assert sorted(run_queued(enqueued)) == ["done", "ignored"]
    assert len(captured_events(incident)) == 1


def test_only_responders_who_see_the_incident_can_capture(post, incident, slack, enqueued, viewer):
    slack.add_user("UVIC", viewer.email)
    slack.add_user("UNOBODY", "nobody@example.test")
    message = slack.add_message("m", channel=ROOM, user="UCARL")
    post(reaction_added(channel=ROOM, ts=message["ts"], user="UVIC"))
    post(reaction_added(channel=ROOM, ts=message["ts"], user="UNOBODY"))
    assert run_queued(enqueued) == ["ignored", "ignored"]
    assert captured_events(incident) == []
    outcomes = set(SlackEvent.objects.values_list("outcome", flat=True))
    assert any("responders" in o for o in outcomes) and any("no active user" in o for o in outcomes)


def test_a_private_incident_takes_no_capture_from_an_outsider(post, slack, enqueued, responder):
    private = incident_services.incident_declare(
        title="Leak", severity=severity("SEV1"), private=True, actor=responder
    )
    IncidentSlackChannel.objects.create(
        incident=private, status="ready", name="inc-leak", channel_id=ROOM
    )
    olga = UserFactory(username="olga", role="responder")
    slack.add_user("UOLGA", olga.email)
    message = slack.add_message("secret detail", channel=ROOM, user="URITA")
    post(reaction_added(channel=ROOM, ts=message["ts"], user="UOLGA"))
    assert run_queued(enqueued) == ["ignored"]
    assert captured_events(private) == []


def test_a_message_deleted_before_the_worker_read_it_is_not_captured(
    post, incident, slack, enqueued
):
    message = slack.add_message("oops", channel=ROOM, user="URITA")
    post(reaction_added(channel=ROOM, ts=message["ts"], user="URITA"))
    slack.delete_message(message["ts"], channel=ROOM)
    assert run_queued(enqueued) == ["ignored"]
    assert SlackEvent.objects.get().outcome == "The message is gone."


def test_slack_errors_retry_then_fail_visibly(post, incident, slack, enqueued, monkeypatch):
    rescheduled = []
    monkeypatch.setattr(
        tasks, "reschedule", lambda task, args, **kwargs: rescheduled.append((args, kwargs))
    )
    message = slack.add_message("m", channel=ROOM, user="UCARL")
    post(reaction_added(channel=ROOM, ts=message["ts"], user="URITA"))
    [slack_event_id] = enqueued
    slack.fail_next("conversations.history", Fault(status=429, retry_after=7))
    assert tasks.slack_event_handle_task(slack_event_id) == "received"
    assert rescheduled and rescheduled[0][0] == (slack_event_id, 2)
    assert rescheduled[0][1]["countdown"] >= 7
    assert tasks.slack_event_handle_task(slack_event_id, 2) == "done"

    other = slack.add_message("n", channel=ROOM, user="UCARL")
    post(reaction_added(channel=ROOM, ts=other["ts"], user="URITA"))
    slack.fail_next("conversations.history", Fault(error="not_in_channel"))
    assert tasks.slack_event_handle_task(enqueued[-1]) == "failed"
    assert "not_in_channel" in SlackEvent.objects.get(pk=enqueued[-1]).outcome


def test_a_hanging_slack_is_cut_by_the_total_deadline(post, incident, slack, enqueued, settings):
    settings.KEEL_OUTBOUND_DEADLINE_SECONDS = 1.5
    message = slack.add_message("m", channel=ROOM, user="UCARL")
    post(reaction_added(channel=ROOM, ts=message["ts"], user="URITA"))
    slack.fail_next("users.info", Fault(hang_seconds=0.9), Fault(hang_seconds=0.9))
    started = time.monotonic()
    status = tasks.slack_event_handle_task(enqueued[0], 99)  # the last attempt: no retry
    assert time.monotonic() - started < 2.5
    assert status == "failed"
    assert captured_events(incident) == []


# ---- edits and deletions -------------------------------------------------------


def _captured(post, slack, enqueued, text="Root cause: expired cert"):
    message = slack.add_message(text, channel=ROOM, user="UCARL")
    post(reaction_added(channel=ROOM, ts=message["ts"], user="URITA"))
    run_queued(enqueued)
    return message


def test_an_edit_in_slack_updates_the_entry_and_the_history_keeps_the_old_text(
    post, incident, slack, enqueued
):
    message = _captured(post, slack, enqueued)
    edited = slack.edit_message(
        message["ts"], "Root cause: expired intermediate cert", channel=ROOM
    )
    post(message_changed(channel=ROOM, message=edited))
    assert run_queued(enqueued) == ["done"]
    [event] = captured_events(incident)
    assert event.text == "Root cause: expired intermediate cert"
    assert event.edited_at is not None
    texts = list(
        event.history.order_by("history_date").values_list("text", "history_change_reason")
    )
    assert texts[0][0] == "Root cause: expired cert"
    assert texts[-1] == ("Root cause: expired intermediate cert", "Edited in Slack")


def test_an_older_edit_arriving_late_does_not_undo_a_newer_one(post, incident, slack, enqueued):
    message = _captured(post, slack, enqueued)
    first = slack.edit_message(message["ts"], "second version", channel=ROOM)
    second = slack.edit_message(message["ts"], "third version", channel=ROOM)
    first["text"] = "second version"
    post(message_changed(channel=ROOM, message=second))
    post(message_changed(channel=ROOM, message=first))
    assert run_queued(enqueued) == ["done", "ignored"]
    assert captured_events(incident)[0].text == "third version"


def test_a_deletion_in_slack_strikes_the_entry_through(
    post, incident, slack, enqueued, responder, client
):
    message = _captured(post, slack, enqueued)
    slack.delete_message(message["ts"], channel=ROOM)
    post(message_deleted(channel=ROOM, ts=message["ts"]))
    assert run_queued(enqueued) == ["done"]
    [event] = captured_events(incident)
    assert event.struck_at is not None and event.struck_reason == "Deleted in Slack"
    client.force_login(responder)
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "<del>Root cause: expired cert</del>" in page
    assert "Deleted in Slack" in page


def test_multi_day_incidents_show_each_messages_date(
    post, incident, slack, enqueued, responder, client
):
    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
    incident_services.incident_update(
        incident=incident, actor=responder, data={"started_at": two_days_ago - timedelta(hours=1)}
    )
    message = slack.add_message(
        "Day one: paging the DB team", channel=ROOM, user="UCARL", at=two_days_ago.timestamp()
    )
    post(reaction_added(channel=ROOM, ts=message["ts"], user="URITA"))
    run_queued(enqueued)
    _captured(post, slack, enqueued, text="Day three: all clear")
    client.force_login(responder)
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert f"{two_days_ago:%Y-%m-%d %H:%M}" in page
    assert f"{datetime.now(UTC):%Y-%m-%d}" in page


def test_the_sweep_enqueues_an_event_whose_task_was_lost(post, incident, slack, enqueued):
    message = slack.add_message("m", channel=ROOM, user="UCARL")
    post(reaction_added(channel=ROOM, ts=message["ts"], user="URITA"))
    lost = enqueued.pop()
    assert tasks.slack_requests_sweep_task() == 0  # too recent: its task may still run
    SlackEvent.objects.filter(pk=lost).update(received_at=datetime.now(UTC) - timedelta(minutes=5))
    assert tasks.slack_requests_sweep_task() == 1
    assert enqueued == [lost]
    assert run_queued(enqueued) == ["done"]
    assert tasks.slack_requests_sweep_task() == 0
