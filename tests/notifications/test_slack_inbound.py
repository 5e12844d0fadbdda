"""Slack inbound: signed requests through Django's test client, the worker task
run in-process against the fake Slack, answers caught by a local response_url."""

import time

import pytest

from incidents import services as incident_services
from incidents.models import Incident, RoleAssignment, TimelineEvent
from notifications import tasks
from notifications.models import SlackRequest, StatusUpdate
from notifications.slack import blocks, handlers, inbound
from tests.factories.incidents import UserFactory, severity
from tests.fakes.slack import (
    SIGNING_SECRET,
    ResponseUrlReceiver,
    action_body,
    command_body,
    signed_post,
)

pytestmark = pytest.mark.django_db

COMMANDS = "/integrations/slack/commands/"
INTERACTIONS = "/integrations/slack/interactions/"
SLACK = TimelineEvent.Source.SLACK


@pytest.fixture
def slack(fake_slack, settings):
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = True  # the response_url receiver is on 127.0.0.1
    return fake_slack


@pytest.fixture
def answers():
    with ResponseUrlReceiver() as receiver:
        yield receiver


@pytest.fixture
def enqueued(monkeypatch):
    """Task ids the views enqueue (the broker is not part of these tests)."""
    queued: list[int] = []
    monkeypatch.setattr(
        tasks.slack_request_handle_task, "apply_async", lambda args, **_: queued.append(args[0])
    )
    return queued


@pytest.fixture
def rita(responder, slack):
    slack.add_user("URITA", responder.email)
    return responder


@pytest.fixture
def incident(rita):
    return incident_services.incident_declare(
        title="Checkout is failing", severity=severity("SEV2"), actor=rita
    )


@pytest.fixture
def send(client, django_capture_on_commit_callbacks, answers, enqueued):
    """Post a command or click as Slack would; return the response."""

    def post(path: str, body: bytes, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return signed_post(client, path, body, **kwargs)

    return post


def command(send, answers, text: str, *, user: str = "URITA", trigger: str = "", **headers):
    body = command_body(text, user=user, response_url=answers.url(), trigger=trigger)
    return send(COMMANDS, body, **headers)


def click(send, answers, action_id: str, value: str, *, user: str = "URITA", **kwargs):
    body = action_body(action_id, value, user=user, response_url=answers.url(), **kwargs)
    return send(INTERACTIONS, body)


def work(enqueued) -> list[str]:
    """Run every enqueued task in-process, as the worker would."""
    statuses = [tasks.slack_request_handle_task.apply(args=(pk,)).get() for pk in enqueued]
    enqueued.clear()
    return statuses


# ---- signatures --------------------------------------------------------------


def test_a_signed_command_is_acknowledged_at_once_and_enqueued(slack, send, answers, enqueued):
    response = command(send, answers, "declare SEV2 Checkout is failing")

    assert response.status_code == 200
    assert response.json() == {"response_type": "ephemeral", "text": "Working on it…"}
    (slack_request,) = SlackRequest.objects.all()
    assert enqueued == [slack_request.pk]
    assert slack_request.status == SlackRequest.Status.RECEIVED
    assert slack_request.team_id == "T0KEEL" and slack_request.slack_user_id == "URITA"
    assert not Incident.objects.exists()  # the view does not act; the worker does


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"secret": "not-the-signing-secret"}, id="bad signature"),
        pytest.param({"age": 310}, id="stale by more than five minutes"),
        pytest.param({"age": -310}, id="from the future"),
        pytest.param({"HTTP_X_SLACK_SIGNATURE": ""}, id="missing signature"),
        pytest.param({"HTTP_X_SLACK_REQUEST_TIMESTAMP": ""}, id="missing timestamp"),
        pytest.param({"HTTP_X_SLACK_REQUEST_TIMESTAMP": "soon"}, id="timestamp not a number"),
    ],
)
def test_unverified_requests_are_refused_and_nothing_happens(
    slack, send, answers, enqueued, headers
):
    body = command_body("declare SEV1 Everything is down", user="URITA")
    if "age" in headers:
        headers = {"at": time.time() - headers.pop("age")}

    for path in (COMMANDS, INTERACTIONS):
        response = send(path, body, **headers)
        assert response.status_code == 401, path
        assert response.json()["code"] == "bad_signature"

    assert not SlackRequest.objects.exists() and enqueued == []


def test_a_body_altered_after_signing_is_refused(client, slack, enqueued):
    body = command_body("stage 1 recover", user="URITA")
    timestamp = str(int(time.time()))
    signature = inbound.sign(secret=SIGNING_SECRET, timestamp=timestamp, body=body)

    response = client.post(
        COMMANDS,
        data=body.replace(b"recover", b"retrospect"),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_SLACK_REQUEST_TIMESTAMP=timestamp,
        HTTP_X_SLACK_SIGNATURE=signature,
    )

    assert response.status_code == 401
    assert not SlackRequest.objects.exists()


def test_a_request_four_minutes_old_is_still_accepted(slack, send, answers, enqueued):
    response = command(send, answers, "resolve 7", at=time.time() - 240)

    assert response.status_code == 200 and len(enqueued) == 1


def test_without_a_signing_secret_slack_is_refused_with_a_clear_503(settings, client, enqueued):
    settings.SLACK_SIGNING_SECRET = None

    for path in (COMMANDS, INTERACTIONS):
        response = signed_post(client, path, command_body("help", user="URITA"))
        assert response.status_code == 503
        assert "SLACK_SIGNING_SECRET is not set" in response.json()["detail"]
    assert enqueued == []


def test_only_post_is_accepted(client, slack):
    assert client.get(COMMANDS).status_code == 405


# ---- the /incident command ------------------------------------------------------


@pytest.mark.parametrize("text", ["", "help", "frobnicate 42", "declare Checkout", "stage x y"])
def test_help_and_unparseable_commands_get_the_usage_at_once(slack, send, answers, enqueued, text):
    response = command(send, answers, text)

    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "/incident declare SEV2" in body["text"]
    assert not SlackRequest.objects.exists() and enqueued == []


def test_declare(slack, rita, send, answers, enqueued):
    command(send, answers, "declare sev2 Checkout is failing")

    assert work(enqueued) == ["done"]

    incident = Incident.objects.get()
    assert incident.title == "Checkout is failing"
    assert incident.severity.code == "SEV2"
    assert incident.commander == rita and incident.stage == "detect"
    declared = incident.events.get(kind=TimelineEvent.Kind.DECLARED)
    assert declared.source == SLACK and declared.actor == rita
    assert incident.history.first().history_user == rita
    (answer,) = answers.received
    assert answer["body"]["response_type"] == "ephemeral"
    assert f"Declared #{incident.pk} SEV2: Checkout is failing" in answer["body"]["text"]
    assert f"/incidents/{incident.pk}/" in answer["body"]["text"]
    assert slack.calls_to("users.info")[0].args["user"] == "URITA"


def test_update(slack, rita, incident, send, answers, enqueued):
    command(send, answers, f"update {incident.pk} Rolled back, monitoring")

    assert work(enqueued) == ["done"]

    update = StatusUpdate.objects.get(incident=incident, kind="manual")
    assert update.message == "Rolled back, monitoring" and update.created_by == rita
    event = incident.events.get(kind=TimelineEvent.Kind.STATUS_UPDATE)
    assert event.source == SLACK and event.text == "Rolled back, monitoring"
    routed = ", ".join(a.slug for a in update.audiences.all())
    assert "responders" in routed
    assert answers.texts() == [f"Posted an update on #{incident.pk} ({routed})."]


def test_stage_with_a_note(slack, rita, incident, send, answers, enqueued):
    command(send, answers, f"stage #{incident.pk} recover Failover done, errors gone")

    assert work(enqueued) == ["done"]

    incident.refresh_from_db()
    assert incident.stage == "recover" and incident.recovered_by == rita
    moved = incident.events.get(kind=TimelineEvent.Kind.STAGE_SKIPPED)
    assert moved.source == SLACK and moved.text == "Failover done, errors gone"
    assert moved.data["skipped"] == ["propagate", "judge"]
    assert answers.texts() == [f"#{incident.pk} is now in Recover."]


def test_resolve_moves_to_recover(slack, rita, incident, send, answers, enqueued):
    incident_services.incident_move(incident=incident, to="judge", actor=rita)

    command(send, answers, f"resolve {incident.pk}")
    work(enqueued)

    incident.refresh_from_db()
    assert incident.stage == "recover" and incident.recovered_at is not None
    assert answers.texts() == [f"#{incident.pk} is now in Recover."]


def test_an_illegal_move_is_reported_and_changes_nothing(
    slack, rita, incident, send, answers, enqueued
):
    incident_services.incident_move(incident=incident, to="analyze", actor=rita)

    command(send, answers, f"stage {incident.pk} propagate")
    assert work(enqueued) == ["failed"]

    incident.refresh_from_db()
    assert incident.stage == "analyze"
    (text,) = answers.texts()
    assert text.startswith("Keel could not do that: Cannot move back from analyze to propagate")
    slack_request = SlackRequest.objects.get()
    assert slack_request.status == "failed" and slack_request.reply == text


def test_an_unknown_severity_is_reported(slack, rita, send, answers, enqueued):
    command(send, answers, "declare SEV9 Nothing works")
    work(enqueued)

    assert not Incident.objects.exists()
    (text,) = answers.texts()
    assert "Unknown severity 'SEV9'" in text and "SEV1, SEV2, SEV3, SEV4" in text


def test_a_private_incident_the_user_cannot_see_is_not_found(slack, rita, send, answers, enqueued):
    owner = UserFactory(username="sam", role="responder")
    secret = incident_services.incident_declare(
        title="Credential leak", severity=severity("SEV1"), actor=owner, private=True
    )

    command(send, answers, f"resolve {secret.pk}")
    work(enqueued)

    secret.refresh_from_db()
    assert secret.stage == "detect"
    assert answers.texts() == [
        f"Keel could not do that: Incident #{secret.pk} does not exist or is not visible to you."
    ]


def test_a_slack_user_unknown_to_keel_is_refused(slack, incident, send, answers, enqueued):
    slack.add_user("USTRANGER", "stranger@elsewhere.test")

    command(send, answers, f"resolve {incident.pk}", user="USTRANGER")
    assert work(enqueued) == ["refused"]

    incident.refresh_from_db()
    assert incident.stage == "detect"
    (text,) = answers.texts()
    assert "no active user with your Slack email (stranger@elsewhere.test)" in text


def test_a_slack_profile_without_an_email_is_refused(slack, incident, send, answers, enqueued):
    slack.add_user("UHIDDEN", None)

    command(send, answers, f"resolve {incident.pk}", user="UHIDDEN")
    work(enqueued)

    assert "users:read.email" in answers.texts()[0]
    assert Incident.objects.get().stage == "detect"


def test_an_inactive_keel_user_is_refused(slack, incident, send, answers, enqueued):
    gone = UserFactory(username="gone", role="responder")
    gone.is_active = False
    gone.save()
    slack.add_user("UGONE", gone.email)

    command(send, answers, f"resolve {incident.pk}", user="UGONE")

    assert work(enqueued) == ["refused"]
    assert Incident.objects.get().stage == "detect"


def test_a_viewer_is_refused(slack, viewer, incident, send, answers, enqueued):
    slack.add_user("UVICTOR", viewer.email.upper())  # emails match case-insensitively

    command(send, answers, f"update {incident.pk} All good")
    command(send, answers, f"resolve {incident.pk}", user="UVICTOR")
    enqueued.pop(0)  # only the viewer's command
    assert work(enqueued) == ["refused"]

    incident.refresh_from_db()
    assert incident.stage == "detect"
    assert not StatusUpdate.objects.filter(kind="manual").exists()
    (text,) = answers.texts()
    assert "(victor) can view incidents but not change them" in text
    assert SlackRequest.objects.get(slack_user_id="UVICTOR").actor == viewer


def test_a_retried_delivery_acts_once(slack, rita, incident, send, answers, enqueued):
    body = command_body(f"stage {incident.pk} judge", user="URITA", response_url=answers.url())

    first = send(COMMANDS, body)
    retried = send(COMMANDS, body, HTTP_X_SLACK_RETRY_NUM="1", HTTP_X_SLACK_RETRY_REASON="timeout")

    assert first.json()["text"] == "Working on it…"
    assert retried.status_code == 200 and "Already on it" in retried.json()["text"]
    (slack_request,) = SlackRequest.objects.all()
    assert enqueued == [slack_request.pk]
    assert SlackRequest.objects.get().retries_seen == 1
    # A duplicate task (e.g. redelivered by the broker) finds the work done.
    enqueued.append(slack_request.pk)
    assert work(enqueued) == ["done", "done"]
    assert incident.events.filter(kind=TimelineEvent.Kind.STAGE_SKIPPED).count() == 1
    assert len(answers.received) == 1


def test_an_answer_that_fails_is_retried_without_acting_again(
    slack, rita, incident, send, answers, enqueued
):
    answers.script = [503]
    command(send, answers, f"stage {incident.pk} judge")
    (pk,) = enqueued

    first = handlers.slack_request_handle(pk)
    assert first.status == "done" and first.retry_in is not None
    assert SlackRequest.objects.get().replied_at is None

    second = handlers.slack_request_handle(pk, attempt=2)
    assert second.retry_in is None
    assert answers.texts() == [f"#{incident.pk} is now in Judge."]
    assert SlackRequest.objects.get().replied_at is not None
    assert incident.events.filter(data__to="judge").count() == 1


def test_slack_unavailable_while_looking_the_user_up_is_retried(
    slack, rita, incident, send, answers, enqueued
):
    from tests.fakes.slack import Fault

    slack.fail_next("users.info", Fault(status=500))
    command(send, answers, f"resolve {incident.pk}")
    (pk,) = enqueued

    assert handlers.slack_request_handle(pk).retry_in is not None
    assert SlackRequest.objects.get().status == "received"
    assert handlers.slack_request_handle(pk, attempt=2).status == "done"
    assert Incident.objects.get().stage == "recover"


def test_without_a_response_url_the_answer_is_an_ephemeral_message(
    client, slack, rita, incident, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        signed_post(client, COMMANDS, command_body(f"resolve {incident.pk}", user="URITA"))

    work(enqueued)

    (ephemeral,) = slack.ephemerals
    assert ephemeral == {
        "channel": "C0INCIDENTS",
        "user": "URITA",
        "text": f"#{incident.pk} is now in Recover.",
    }


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_broker_outage_is_told_to_the_user(client, settings, monkeypatch):
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET

    def broker_down(*args, **options):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(tasks.slack_request_handle_task, "apply_async", broker_down)

    response = signed_post(client, COMMANDS, command_body("resolve 1", user="URITA"))

    assert response.status_code == 200
    assert "could not queue this right now" in response.json()["text"]
    assert SlackRequest.objects.get().status == "failed"


# ---- buttons on the announcement -------------------------------------------------


def test_the_announcement_carries_acknowledge_and_move_buttons():
    incident = {
        "id": 42,
        "title": "Checkout is failing",
        "severity": "SEV2",
        "stage": "judge",
        "stage_label": "Judge",
        "closed": False,
        "commander": "Rita",
        "services": "Checkout",
        "url": "http://keel.test/incidents/42/",
    }

    _, open_blocks = blocks.announcement(incident=incident)
    _, closed_blocks = blocks.announcement(incident={**incident, "closed": True})
    _, last_blocks = blocks.announcement(incident={**incident, "stage": "retrospect"})

    elements = open_blocks[-1]["elements"]
    assert [e["action_id"] for e in elements] == [
        "open_incident",
        "incident_acknowledge",
        "incident_move",
    ]
    assert elements[0]["url"] == "http://keel.test/incidents/42/"
    assert elements[1]["value"] == "42"
    assert elements[2]["value"] == "42:recover"
    assert elements[2]["text"]["text"] == "Move to Recover"
    assert [e["action_id"] for e in closed_blocks[-1]["elements"]] == ["open_incident"]
    assert [e["action_id"] for e in last_blocks[-1]["elements"]] == [
        "open_incident",
        "incident_acknowledge",
    ]


def test_acknowledge_adds_the_user_as_a_responder_with_a_note(
    slack, rita, incident, send, answers, enqueued
):
    nina = UserFactory(username="nina", role="responder", first_name="Nina", last_name="Ng")
    slack.add_user("UNINA", nina.email)

    response = click(send, answers, "incident_acknowledge", str(incident.pk), user="UNINA")
    assert response.status_code == 200 and response.content == b""
    assert work(enqueued) == ["done"]

    assert list(incident.responders.all()) == [nina]
    assert RoleAssignment.objects.get(incident=incident, role="responder").user == nina
    note = incident.events.get(kind=TimelineEvent.Kind.NOTE)
    assert note.text == "Acknowledged in Slack by Nina Ng." and note.source == SLACK
    assert note.actor == nina
    assert answers.texts() == [f"You are now a responder on #{incident.pk}."]

    click(send, answers, "incident_acknowledge", str(incident.pk), user="UNINA")
    work(enqueued)
    assert incident.events.filter(kind=TimelineEvent.Kind.NOTE).count() == 1
    assert answers.texts()[-1] == f"You are already a responder on #{incident.pk}."


def test_move_advances_to_the_stage_the_button_named(
    slack, rita, incident, send, answers, enqueued
):
    click(send, answers, "incident_move", f"{incident.pk}:propagate")
    assert work(enqueued) == ["done"]

    incident.refresh_from_db()
    assert incident.stage == "propagate" and incident.propagated_by == rita
    moved = incident.events.get(kind=TimelineEvent.Kind.STAGE_MOVED)
    assert moved.source == SLACK
    assert answers.texts() == [f"#{incident.pk} is now in Propagate."]


def test_a_stale_move_button_does_not_move_twice(slack, rita, incident, send, answers, enqueued):
    # Two people click "Move to Propagate" at once: one moves, the other is told why not.
    click(send, answers, "incident_move", f"{incident.pk}:propagate")
    click(send, answers, "incident_move", f"{incident.pk}:propagate")
    assert work(enqueued) == ["done", "failed"]

    incident.refresh_from_db()
    assert incident.stage == "propagate"
    assert answers.texts()[1] == "Keel could not do that: The incident is already in propagate."


def test_a_move_without_a_target_goes_to_the_next_stage(
    slack, rita, incident, send, answers, enqueued
):
    incident_services.incident_move(incident=incident, to="judge", actor=rita)

    click(send, answers, "incident_move", str(incident.pk))
    work(enqueued)

    incident.refresh_from_db()
    assert incident.stage == "recover"


def test_a_viewer_clicking_acknowledge_is_refused(slack, viewer, incident, send, answers, enqueued):
    slack.add_user("UVICTOR", viewer.email)

    click(send, answers, "incident_acknowledge", str(incident.pk), user="UVICTOR")

    assert work(enqueued) == ["refused"]
    assert not incident.responders.exists()


def test_a_retried_click_acts_once(slack, rita, incident, send, answers, enqueued):
    body = action_body(
        "incident_move", f"{incident.pk}:judge", user="URITA", response_url=answers.url()
    )

    send(INTERACTIONS, body)
    send(INTERACTIONS, body, HTTP_X_SLACK_RETRY_NUM="1")

    assert len(enqueued) == 1 and SlackRequest.objects.count() == 1


def test_open_in_keel_and_foreign_payloads_are_acknowledged_without_work(
    slack, send, answers, enqueued
):
    link = action_body("open_incident", "", user="URITA")
    assert send(INTERACTIONS, link).status_code == 200

    assert send(INTERACTIONS, b"payload=not-json").status_code == 400
    assert send(INTERACTIONS, b"text=hello").status_code == 400
    assert not SlackRequest.objects.exists() and enqueued == []


# ---- parsing (pure) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("declare SEV2 Checkout is failing", ("declare", None, "SEV2", "Checkout is failing")),
        ("DECLARE sev1   Login  down ", ("declare", None, "SEV1", "Login  down")),
        ("update 42 Rolled back, monitoring", ("update", 42, "", "Rolled back, monitoring")),
        ("stage #42 recover", ("stage", 42, "recover", "")),
        ("stage 42 Judge Need more data", ("stage", 42, "judge", "Need more data")),
        ("resolve 42", ("resolve", 42, "recover", "")),
    ],
)
def test_commands_parse(text, expected):
    parsed = inbound.parse_command(text)

    assert isinstance(parsed, inbound.Command)
    action, incident_id, third, fourth = expected
    assert (parsed.action, parsed.incident_id) == (action, incident_id)
    if action == "declare":
        assert (parsed.severity, parsed.title) == (third, fourth)
    elif action == "update":
        assert parsed.message == fourth
    else:
        assert (parsed.stage, parsed.note) == (third, fourth)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("help", ""),
        ("declare", "needs a severity and a title"),
        ("declare Checkout is down", "needs a severity and a title"),
        ("declare SEV2 " + "x" * 201, "limit is 200"),
        ("update x Rolled back", "needs an incident number"),
        ("update 42", "needs a message"),
        ("update ٤٢ Arabic-Indic digits", "needs an incident number"),
        ("stage 42 closed", "'closed' is not a stage"),
        ("stage 42", "needs a stage"),
        ("escalate 42", "Unknown command 'escalate'"),
    ],
)
def test_bad_commands_explain_themselves(text, problem):
    parsed = inbound.parse_command(text)

    assert isinstance(parsed, inbound.Usage)
    assert parsed.problem.startswith(problem) if not problem else problem in parsed.problem
    assert inbound.USAGE in parsed.text


def test_signature_check_is_exact_about_its_window():
    body = b"text=help"
    signature = inbound.sign(secret="s", timestamp=1_000_000, body=body)
    check = lambda now: inbound.signature_problem(  # noqa: E731
        secret="s", timestamp="1000000", signature=signature, body=body, now=now
    )

    assert check(1_000_300) is None
    assert "five-minute window" in check(1_000_301)
    assert "does not match" in inbound.signature_problem(
        secret="other", timestamp="1000000", signature=signature, body=body, now=1_000_000
    )


# ---- lost tasks ----------------------------------------------------------------


def test_a_command_whose_task_was_lost_is_swept_and_done_once(
    slack, rita, incident, send, answers, enqueued
):
    from datetime import timedelta

    from django.utils import timezone

    from notifications.slack.commands import slack_requests_stalled

    command(send, answers, f"update {incident.pk} Still on it")
    lost = list(enqueued)
    enqueued.clear()  # the broker lost the task
    later = timezone.now() + timedelta(minutes=1)

    assert slack_requests_stalled(now=timezone.now()) == []  # not stalled yet
    assert slack_requests_stalled(now=later) == lost
    assert work(lost) == ["done"]
    assert slack_requests_stalled(now=later) == []
    assert StatusUpdate.objects.filter(kind="manual").count() == 1
    # Too old to answer (Slack's response_url lasts 30 minutes): left alone.
    SlackRequest.objects.update(status=SlackRequest.Status.RECEIVED, replied_at=None)
    assert slack_requests_stalled(now=timezone.now() + timedelta(minutes=31)) == []
