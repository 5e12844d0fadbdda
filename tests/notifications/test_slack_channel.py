"""An incident's own Slack channel: the service, the task against the fake Slack,
idempotency, ``name_taken``, failures, and the API per role."""

import pytest

from incidents import services as incident_services
from incidents.models import TimelineEvent
from notifications import tasks
from notifications.models import IncidentSlackChannel
from notifications.slack import channel_provisioning, handlers, inbound
from tests.factories.incidents import UserFactory, severity
from tests.fakes.slack import Fault

pytestmark = pytest.mark.django_db
Status = IncidentSlackChannel.Status


@pytest.fixture
def enqueued(monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(
        tasks.incident_slack_channel_open_task,
        "apply_async",
        lambda args, **_: queued.append(args[0]),
    )
    return queued


@pytest.fixture
def incident(responder, fake_slack):
    fake_slack.add_user("URITA", responder.email)
    return incident_services.incident_declare(
        title="Checkout is failing: 502s (EU) — Zürich", severity=severity("SEV2"), actor=responder
    )


@pytest.fixture
def nina(incident, responder, fake_slack):
    nina = UserFactory(username="nina", role="responder")
    fake_slack.add_user("UNINA", nina.email)
    incident_services.incident_assign_role(
        incident=incident, role="responder", user=nina, actor=responder
    )
    return nina


def open_channel(incident, actor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return channel_provisioning.incident_slack_channel_open(incident=incident, actor=actor)


def run(incident_id: int, attempt: int = 1) -> str:
    return tasks.incident_slack_channel_open_task.apply(args=(incident_id, attempt)).get()


@pytest.mark.parametrize(
    ("incident_id", "title", "expected"),
    [
        (42, "Checkout is failing", "inc-42-checkout-is-failing"),
        (
            42,
            "Checkout is failing: 502s (EU) — Zürich",
            "inc-42-checkout-is-failing-502s-eu-zurich",
        ),
        (7, "결제 장애", "inc-7"),
        (7, "__Login__ DOWN!!", "inc-7-login-down"),
        (123456, "x" * 200, "inc-123456-" + "x" * 69),
        (9, "a " * 60, ("inc-9-" + "a-" * 37)[:80].rstrip("-")),
    ],
)
def test_channel_names_follow_slacks_rules(incident_id, title, expected):
    name = inbound.channel_name(incident_id, title)

    assert name == expected
    assert len(name) <= 80 and name == name.lower()
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-_")


def test_opening_creates_invites_and_announces(
    fake_slack, responder, incident, nina, enqueued, django_capture_on_commit_callbacks
):
    channel, queued = open_channel(incident, responder, django_capture_on_commit_callbacks)

    assert queued and enqueued == [incident.pk]
    assert channel.status == Status.PENDING
    assert channel.name == f"inc-{incident.pk}-checkout-is-failing-502s-eu-zurich"

    assert run(incident.pk) == Status.READY

    channel.refresh_from_db()
    (create,) = fake_slack.calls_to("conversations.create")
    assert create.args["name"] == channel.name
    assert fake_slack.channels[channel.channel_id] == channel.name
    assert channel.channel_id not in fake_slack.private_channels
    assert fake_slack.members_of(channel.channel_id) == {"UKEEL", "URITA", "UNINA"}
    assert channel.invited == ["nina", "rita"]
    (announcement,) = fake_slack.posted(channel.channel_id)
    assert channel.announcement_ts == announcement["ts"]
    assert "Checkout is failing" in announcement["text"]
    actions = announcement["blocks"][-1]["elements"]
    assert [a["action_id"] for a in actions] == [
        "open_incident",
        "incident_acknowledge",
        "incident_move",
    ]
    event = incident.events.get(text__startswith="Slack channel")
    assert event.text == f"Slack channel #{channel.name} opened."
    assert event.source == TimelineEvent.Source.SLACK and event.actor == responder
    assert event.kind == TimelineEvent.Kind.SLACK_CHANNEL_OPENED  # not a note anyone can edit
    assert channel.lease_until is None and channel.last_error == ""


def test_people_without_a_slack_account_are_skipped(
    fake_slack, responder, incident, enqueued, django_capture_on_commit_callbacks
):
    outsider = UserFactory(username="olga", role="responder")  # no Slack user with her email
    incident_services.incident_assign_role(
        incident=incident, role="responder", user=outsider, actor=responder
    )
    open_channel(incident, responder, django_capture_on_commit_callbacks)

    assert run(incident.pk) == Status.READY

    channel = IncidentSlackChannel.objects.get()
    assert channel.invited == ["rita"]
    assert fake_slack.members_of(channel.channel_id) == {"UKEEL", "URITA"}


def test_opening_twice_does_nothing_the_second_time(
    fake_slack, responder, incident, enqueued, django_capture_on_commit_callbacks
):
    open_channel(incident, responder, django_capture_on_commit_callbacks)
    run(incident.pk)
    enqueued.clear()

    channel, queued = open_channel(incident, responder, django_capture_on_commit_callbacks)

    assert not queued and enqueued == [] and channel.status == Status.READY
    assert run(incident.pk) == "nothing to do"  # a duplicate task, too
    assert len(fake_slack.calls_to("conversations.create")) == 1
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert IncidentSlackChannel.objects.count() == 1


def test_name_taken_finds_the_existing_channel(
    fake_slack, responder, incident, enqueued, django_capture_on_commit_callbacks
):
    name = inbound.channel_name(incident.pk, incident.title)
    fake_slack.add_channel("C0EARLIER", name)  # e.g. an earlier attempt whose answer was lost
    open_channel(incident, responder, django_capture_on_commit_callbacks)

    assert run(incident.pk) == Status.READY

    channel = IncidentSlackChannel.objects.get()
    assert channel.channel_id == "C0EARLIER"
    assert fake_slack.calls_to("conversations.create")[0].args["name"] == name
    assert fake_slack.calls_to("conversations.list")
    assert len(fake_slack.posted("C0EARLIER")) == 1


def test_a_private_incident_gets_a_private_channel(
    fake_slack, responder, enqueued, django_capture_on_commit_callbacks
):
    fake_slack.add_user("URITA", responder.email)
    secret = incident_services.incident_declare(
        title="Credential leak", severity=severity("SEV1"), actor=responder, private=True
    )
    open_channel(secret, responder, django_capture_on_commit_callbacks)

    run(secret.pk)

    channel = IncidentSlackChannel.objects.get()
    assert channel.status == Status.READY and channel.channel_id in fake_slack.private_channels


def test_a_transient_failure_is_retried_and_then_succeeds(
    fake_slack, responder, incident, enqueued, django_capture_on_commit_callbacks
):
    fake_slack.fail_next("conversations.create", Fault(status=500))
    open_channel(incident, responder, django_capture_on_commit_callbacks)

    result = handlers.incident_slack_channel_provision(incident.pk)

    assert result.status == Status.PENDING and result.retry_in > 0
    channel = IncidentSlackChannel.objects.get()
    assert channel.status == Status.PENDING and "internal_error" in channel.last_error
    assert channel.lease_until is None  # free for the rescheduled attempt
    assert handlers.incident_slack_channel_provision(incident.pk, attempt=2).status == Status.READY


def test_a_lost_announcement_is_found_not_posted_twice(
    fake_slack, responder, incident, enqueued, django_capture_on_commit_callbacks
):
    fake_slack.fail_next("chat.postMessage", Fault(apply_then_hang=True, hang_seconds=2.5))
    open_channel(incident, responder, django_capture_on_commit_callbacks)

    assert handlers.incident_slack_channel_provision(incident.pk).retry_in is not None
    assert handlers.incident_slack_channel_provision(incident.pk, attempt=2).status == "ready"

    channel = IncidentSlackChannel.objects.get()
    (announcement,) = fake_slack.posted(channel.channel_id)
    assert channel.announcement_ts == announcement["ts"]
    assert len(fake_slack.calls_to("conversations.create")) == 1  # the id was kept


def test_a_permanent_failure_is_visible_and_asking_again_retries(
    fake_slack, responder, incident, enqueued, django_capture_on_commit_callbacks
):
    fake_slack.fail_next("conversations.create", Fault(error="restricted_action"))
    open_channel(incident, responder, django_capture_on_commit_callbacks)

    assert run(incident.pk) == Status.FAILED
    channel = IncidentSlackChannel.objects.get()
    assert channel.status == Status.FAILED and "restricted_action" in channel.last_error

    channel, queued = open_channel(incident, responder, django_capture_on_commit_callbacks)
    assert queued and channel.status == Status.PENDING and channel.last_error == ""
    assert run(incident.pk) == Status.READY


def test_without_a_bot_token_the_channel_fails_visibly(
    settings, responder, enqueued, django_capture_on_commit_callbacks
):
    settings.SLACK_BOT_TOKEN = None
    incident = incident_services.incident_declare(
        title="Search is slow", severity=severity("SEV3"), actor=responder
    )
    open_channel(incident, responder, django_capture_on_commit_callbacks)

    assert run(incident.pk) == Status.FAILED
    assert "SLACK_BOT_TOKEN" in IncidentSlackChannel.objects.get().last_error


# ---- the API ------------------------------------------------------------------------


def url(incident) -> str:
    return f"/api/v1/incidents/{incident.pk}/slack-channel/"


def test_api_responder_gets_202_then_200_once_ready(
    fake_slack, as_user, responder, incident, enqueued, django_capture_on_commit_callbacks
):
    client = as_user(responder)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(incident))

    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    assert response.json()["name"] == inbound.channel_name(incident.pk, incident.title)
    assert enqueued == [incident.pk]

    run(incident.pk)
    again = client.post(url(incident))
    assert again.status_code == 200
    assert again.json()["status"] == "ready" and again.json()["channel_id"]


def test_api_admin_may_open_a_channel(
    fake_slack, as_user, admin_user, incident, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(admin_user).post(url(incident))

    assert response.status_code == 202 and enqueued == [incident.pk]


def test_api_viewer_is_refused(as_user, viewer, incident, enqueued):
    response = as_user(viewer).post(url(incident))

    assert response.status_code == 403
    assert not IncidentSlackChannel.objects.exists() and enqueued == []


def test_api_needs_authentication(api_client, incident, enqueued):
    assert api_client.post(url(incident)).status_code in (401, 403)
    assert not IncidentSlackChannel.objects.exists()


def test_api_private_incident_is_hidden_from_non_participants(
    fake_slack, as_user, responder, enqueued
):
    owner = UserFactory(username="sam", role="responder")
    secret = incident_services.incident_declare(
        title="Credential leak", severity=severity("SEV1"), actor=owner, private=True
    )

    assert as_user(responder).post(url(secret)).status_code == 404
    missing = "/api/v1/incidents/999999/slack-channel/"
    assert as_user(responder).post(missing).status_code == 404
    assert enqueued == []
