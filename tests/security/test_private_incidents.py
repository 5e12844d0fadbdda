"""Private-incident probes: marker strings in a private incident's title, summary,
notes, updates and action items, then every producer of outbound messages is driven
through its real function, task or endpoint; the markers must appear in no Delivery
row, no message the fake Slack received, no email, no webhook, no feed or public
document. Each probe also runs on a public twin, so a probe that could not see a
leak fails instead of passing quietly. Participants still get what they address.

The rule under test is ``incidents.visibility.may_tell_audiences``.
"""

import json
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import AlertSource, Incident, TimelineEvent
from notifications import services as notification_services
from notifications import tasks
from notifications.models import Delivery, Destination, StatusUpdate, UpdateKind
from notifications.services import updates as notification_updates
from notifications.slack import blocks
from postmortems import services as postmortem_services
from postmortems.tasks import action_items_remind_task
from statuspage import snapshot
from tests.factories.incidents import UserFactory, severity
from tests.factories.notifications import DestinationFactory, audience
from tests.fakes.slack import (
    SIGNING_SECRET,
    FakeSlackServer,
    ResponseUrlReceiver,
    action_body,
    command_body,
    signed_post,
)
from tests.fakes.webhooks import WebhookReceiver

pytestmark = pytest.mark.django_db

MARKERS = {
    "title": "PRIVTITLE4401",
    "summary": "PRIVSUMMARY4402",
    "note": "PRIVNOTE4403",
    "update": "PRIVUPDATE4404",
    "action_item": "PRIVITEM4405",
}
TWIN = "TWINTITLE4499"  # the public twin's title: must reach the destinations
ALERTMANAGER = "/api/v1/integrations/alertmanager/"
COMMANDS = "/integrations/slack/commands/"
INTERACTIONS = "/integrations/slack/interactions/"
SLACK = TimelineEvent.Source.SLACK
SYSTEM = TimelineEvent.Source.SYSTEM


@dataclass
class World:
    rita: object  # declares the incidents: a participant
    oscar: object  # a responder who takes no part in the private incident
    slack: object
    answers: ResponseUrlReceiver
    webhooks: WebhookReceiver
    enqueued: list = field(default_factory=list)

    def observed(self) -> dict[str, str]:
        """Everything that left Keel or waits in the outbox to leave, by where."""
        seen = {
            f"delivery {d.pk} to {d.destination}": d.rendered_text
            for d in Delivery.objects.select_related("destination__audience")
        }
        for n, call in enumerate(self.slack.calls):
            seen[f"slack {call.method} #{n}"] = json.dumps(call.args)
        for n, message in enumerate(mail.outbox):
            parts = [message.subject, message.body, *map(str, getattr(message, "alternatives", []))]
            body = "\n".join(parts)
            seen[f"email #{n} to {message.to}"] = body
        for n, event in enumerate(self.webhooks.received):
            seen[f"webhook #{n}"] = json.dumps(event["body"])
        return seen

    def answered(self) -> list[str]:
        return self.answers.texts()


@pytest.fixture
def world(settings, monkeypatch, django_capture_on_commit_callbacks):
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = True  # receivers are on 127.0.0.1
    settings.KEEL_OUTBOUND_TIMEOUT_SECONDS = 1
    enqueued: list[int] = []
    monkeypatch.setattr(
        tasks.slack_request_handle_task,
        "apply_async",
        lambda args, **_: enqueued.append(args[0]),
    )
    secret = Destination.new_secret()
    with (
        FakeSlackServer() as server,
        ResponseUrlReceiver() as answers,
        WebhookReceiver(secret=secret) as webhooks,
    ):
        settings.SLACK_BOT_TOKEN = "xoxb-test-token"
        settings.SLACK_API_BASE_URL = server.base_url
        rita = UserFactory(username="rita", role="responder")
        oscar = UserFactory(username="oscar", role="responder")
        server.fake.add_user("URITA", rita.email)
        server.fake.add_user("UOSCAR", oscar.email)
        # Every audience has a shared destination of each kind the outbox sends to.
        for slug in ("responders", "cs", "business"):
            DestinationFactory(audience=audience(slug), kind=Destination.Kind.SLACK)
            DestinationFactory(
                audience=audience(slug), kind=Destination.Kind.EMAIL, target=f"{slug}@example.test"
            )
            DestinationFactory(
                audience=audience(slug),
                kind=Destination.Kind.WEBHOOK,
                target=webhooks.url,
                secret=secret,
            )
        yield World(rita, oscar, server.fake, answers, webhooks, enqueued)


def declare(world, *, private: bool, title: str, **kwargs) -> Incident:
    incident = incident_services.incident_declare(
        title=title,
        summary=MARKERS["summary"] if private else "Twin summary.",
        severity=severity(kwargs.pop("code", "SEV1")),
        actor=world.rita,
        private=private,
        **kwargs,
    )
    if private:
        incident_services.note_add(incident=incident, text=MARKERS["note"], actor=world.rita)
    return incident


def drain() -> int:
    """Send every pending delivery now, in-process, as the worker would."""
    pending = list(Delivery.objects.filter(status=Delivery.Status.PENDING).values_list("pk"))
    for (pk,) in pending:
        tasks.delivery_send_task.apply(args=(str(pk),))
    return len(pending)


def assert_no_marker(world) -> None:
    seen = world.observed()
    for name, marker in MARKERS.items():
        for where, body in seen.items():
            assert marker not in body, f"private {name} reached {where}"


def assert_twin_told(world) -> None:
    """The probe can see a leak: the public twin's title did leave Keel."""
    sent = Delivery.objects.filter(status=Delivery.Status.SENT).count()
    assert sent, "the public twin produced no delivery: the probe proves nothing"
    seen = world.observed()
    assert any(TWIN in body for where, body in seen.items() if where.startswith("slack"))
    assert any(TWIN in body for where, body in seen.items() if where.startswith("email"))
    assert any(TWIN in body for where, body in seen.items() if where.startswith("webhook"))


def deliveries_of(incident) -> int:
    return Delivery.objects.filter(update__incident=incident).count()


# ---- automatic producers: routing, declare / stage / severity fan-out ---------------


def _declare(world, incident):
    pass  # declaring (in ``declare``) already fanned out the "declared" update


def _stage_moves(world, incident):
    for stage in ("propagate", "judge", "recover"):
        incident_services.incident_move(incident=incident, to=stage, actor=world.rita)


def _severity_change(world, incident):
    incident_services.incident_update(
        incident=incident, actor=world.rita, data={"severity": severity("SEV2")}
    )


def _routed_update(world, incident):
    message = MARKERS["update"] if incident.private else "Twin update."
    notification_services.update_post(incident=incident, message=message, actor=world.rita)


def _automatic_update_naming_audiences(world, incident):
    # A future producer that skips routing and names audiences itself, as the
    # reminders used to: actor None, kind reminder, source system.
    notification_services.update_post(
        incident=incident,
        message="Automatic " + (MARKERS["update"] if incident.private else "twin"),
        actor=None,
        audiences=["responders", "cs", "business"],
        kind=UpdateKind.REMINDER,
        source=SYSTEM,
    )


def _system_source_manual_update(world, incident):
    # Even "manual" in the name of a person is automatic when the beat or an alert sends it.
    notification_services.update_post(
        incident=incident,
        message="System " + (MARKERS["update"] if incident.private else "twin"),
        actor=world.rita,
        audiences=["responders", "cs"],
        source=SYSTEM,
    )


PRODUCERS = {
    "declare": _declare,
    "stage moves": _stage_moves,
    "severity change": _severity_change,
    "routed update by a participant": _routed_update,
    "automatic update naming audiences": _automatic_update_naming_audiences,
    "system-source update naming audiences": _system_source_manual_update,
}


@pytest.mark.parametrize("producer", PRODUCERS, ids=list(PRODUCERS))
def test_automatic_producers_tell_no_audience_about_a_private_incident(world, producer):
    private = declare(world, private=True, title=MARKERS["title"])
    PRODUCERS[producer](world, private)
    assert deliveries_of(private) == 0
    drain()
    assert_no_marker(world)
    # The update is kept where participants see it, with what was withheld.
    for event in private.events.filter(kind=TimelineEvent.Kind.STATUS_UPDATE):
        assert event.data["audiences"] == []

    twin = declare(world, private=False, title=TWIN)
    before = 0 if producer == "declare" else deliveries_of(twin)
    PRODUCERS[producer](world, twin)
    assert deliveries_of(twin) > before
    drain()
    assert_twin_told(world)
    assert_no_marker(world)


def test_a_non_participant_naming_audiences_tells_no_one(world):
    private = declare(world, private=True, title=MARKERS["title"])
    update = notification_services.update_post(
        incident=private,
        message=MARKERS["update"],
        actor=world.oscar,
        audiences=["responders", "cs", "business"],
    )
    assert list(update.audiences.all()) == [] and deliveries_of(private) == 0
    event = private.events.get(kind=TimelineEvent.Kind.STATUS_UPDATE)
    assert event.data["withheld"] == ["responders", "cs", "business"]
    drain()
    assert_no_marker(world)


def test_writing_deliveries_directly_still_passes_the_gate(world):
    """The gate is where rows are written: a producer calling the writer directly
    (bypassing ``update_post``) gets no row for a private incident either."""
    private = declare(world, private=True, title=MARKERS["title"])
    update = StatusUpdate.objects.create(
        incident=private,
        kind=UpdateKind.REMINDER,
        message=MARKERS["update"],
        created_at=timezone.now(),
    )
    rows = notification_updates._write_deliveries(
        update, [audience("responders"), audience("cs")], source=SYSTEM, addressed=True
    )
    assert rows == [] and deliveries_of(private) == 0
    drain()
    assert_no_marker(world)


@pytest.mark.parametrize("addressed", [False, True], ids=["routed", "addressed"])
def test_an_update_written_while_public_is_not_sent_once_private(world, addressed):
    """The channels render the incident's current title when they send, so the gate
    runs again at send time: made private (and renamed) before the worker got to it,
    the update goes nowhere, whoever wrote it and however it was addressed."""
    incident = declare(world, private=False, title="Routine title")
    kwargs = {"audiences": ["responders", "cs", "business"]} if addressed else {}
    update = notification_services.update_post(
        incident=incident, message="Looking into it.", actor=world.rita, **kwargs
    )
    assert update.deliveries.exists()
    incident_services.incident_update(
        incident=incident, actor=world.rita, data={"title": MARKERS["title"], "private": True}
    )

    drain()
    assert_no_marker(world)
    statuses = set(Delivery.objects.filter(update__incident=incident).values_list("status"))
    assert statuses == {(Delivery.Status.SKIPPED,)}
    assert set(update.deliveries.values_list("last_error", flat=True)) == {
        "Not sent: the incident is private now."
    }


# ---- the two reminders, through their real tasks ----------------------------------


def test_cadence_reminder_of_a_private_incident_stays_on_its_timeline(world):
    two_hours_ago = timezone.now() - timedelta(hours=2)
    private = declare(world, private=True, title=MARKERS["title"], detected_at=two_hours_ago)
    # A participant told CS once (allowed: deliberate), so CS is due again later.
    told = notification_services.update_post(
        incident=private, message="We are on it.", actor=world.rita, audiences=["cs"]
    )
    StatusUpdate.objects.filter(pk=told.pk).update(created_at=two_hours_ago)
    allowed = set(Delivery.objects.filter(update=told).values_list("pk", flat=True))
    assert allowed  # the participant's own addressing is delivered
    Delivery.objects.filter(update=told).delete()  # keep only what the beat produces

    assert tasks.cadence_remind_task.apply().get() == 1
    reminder = StatusUpdate.objects.get(incident=private, kind=UpdateKind.REMINDER)
    assert list(reminder.audiences.all()) == []
    assert not Delivery.objects.filter(update=reminder).exists()
    event = private.events.get(data__update=reminder.pk)
    assert event.data["withheld"] == ["responders"] and "CS team" in event.text
    drain()
    assert_no_marker(world)
    assert tasks.cadence_remind_task.apply().get() == 0  # once per missed due time

    twin = declare(world, private=False, title=TWIN, detected_at=two_hours_ago)
    StatusUpdate.objects.filter(incident=twin).update(created_at=two_hours_ago)
    assert tasks.cadence_remind_task.apply().get() >= 1
    assert Delivery.objects.filter(update__incident=twin, update__kind="reminder").exists()
    drain()
    assert_twin_told(world)
    assert_no_marker(world)


def _recovered(world, *, private: bool, title: str) -> Incident:
    incident = declare(world, private=private, title=title)
    _stage_moves(world, incident)
    return incident


def _overdue_item(world, incident, title: str) -> None:
    postmortem = postmortem_services.postmortem_start(incident=incident, actor=world.rita)
    postmortem_services.action_item_create(
        postmortem=postmortem,
        actor=world.rita,
        data={
            "title": title,
            "owner": "rita",
            "due_date": timezone.localdate() - timedelta(days=1),
        },
    )


def test_action_item_reminder_of_a_private_incident_stays_on_its_timeline(world):
    private = _recovered(world, private=True, title=MARKERS["title"])
    _overdue_item(world, private, MARKERS["action_item"])

    assert action_items_remind_task.apply().get() == 1
    reminder = StatusUpdate.objects.get(incident=private, kind=UpdateKind.REMINDER)
    assert MARKERS["action_item"] in reminder.message  # visible on the incident page
    assert list(reminder.audiences.all()) == [] and deliveries_of(private) == 1
    # The one delivery is the owner's own notice (she may see the incident), and it
    # names none of the incident's words (assert_no_marker below reads it too).
    (notice,) = Delivery.objects.filter(update__incident=private)
    assert notice.destination.user == world.rita and notice.update.kind == UpdateKind.PERSONAL
    assert private.events.get(data__update=reminder.pk).data["withheld"] == ["responders"]
    drain()
    assert_no_marker(world)
    # Where the reminder is: the incident's communications page, for participants only.
    page = reverse("communications:page", args=[private.pk])
    client = Client()
    client.force_login(world.rita)
    shown = client.get(page).content.decode()
    assert MARKERS["action_item"] in shown
    assert "private incident: kept here, sent to no shared channel" in shown
    client.force_login(world.oscar)
    assert client.get(page).status_code == 404

    twin = _recovered(world, private=False, title=TWIN)
    _overdue_item(world, twin, "Twin item")
    assert action_items_remind_task.apply().get() == 1
    assert Delivery.objects.filter(update__incident=twin, update__kind="reminder").exists()
    drain()
    assert_twin_told(world)
    assert_no_marker(world)


# ---- Slack commands and buttons --------------------------------------------------


def slack(world, client, django_capture_on_commit_callbacks, path: str, body: bytes) -> None:
    """Post as Slack would, then run the enqueued task in-process as the worker would."""
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_post(client, path, body)
    assert response.status_code == 200, response.content
    for pk in world.enqueued:
        tasks.slack_request_handle_task.apply(args=(pk,))
    world.enqueued.clear()


def test_slack_commands_and_buttons_of_a_non_participant_learn_and_change_nothing(
    world, client, django_capture_on_commit_callbacks
):
    private = declare(world, private=True, title=MARKERS["title"])
    events = private.events.count()
    url = world.answers.url()
    for text in (
        f"update {private.pk} {MARKERS['update']}",
        f"stage {private.pk} judge",
        f"resolve {private.pk} fixed",
    ):
        body = command_body(text, user="UOSCAR", response_url=url)
        slack(world, client, django_capture_on_commit_callbacks, COMMANDS, body)
    for action_id, value in (
        (blocks.ACTION_ACKNOWLEDGE, str(private.pk)),
        (blocks.ACTION_MOVE, f"{private.pk}:propagate"),
    ):
        body = action_body(action_id, value, user="UOSCAR", response_url=url)
        slack(world, client, django_capture_on_commit_callbacks, INTERACTIONS, body)

    answers = world.answered()
    assert len(answers) == 5
    hidden = f"Incident #{private.pk} does not exist or is not visible to you."
    assert all(hidden in answer for answer in answers)  # the same words as a missing id
    private.refresh_from_db()
    assert private.stage == "detect" and not private.responders.filter(pk=world.oscar.pk).exists()
    assert private.events.count() == events
    assert not StatusUpdate.objects.filter(incident=private, kind="manual").exists()
    drain()
    assert_no_marker(world)
    for marker in MARKERS.values():
        assert all(marker not in answer for answer in answers)


def test_slack_commands_of_a_participant_act_but_tell_no_shared_channel(
    world, client, django_capture_on_commit_callbacks
):
    private = declare(world, private=True, title=MARKERS["title"])
    url = world.answers.url()
    for text in (f"update {private.pk} {MARKERS['update']}", f"stage {private.pk} judge"):
        body = command_body(text, user="URITA", response_url=url)
        slack(world, client, django_capture_on_commit_callbacks, COMMANDS, body)
    body = action_body(blocks.ACTION_MOVE, f"{private.pk}:recover", user="URITA", response_url=url)
    slack(world, client, django_capture_on_commit_callbacks, INTERACTIONS, body)

    assert world.answered() == [
        f"Posted an update on #{private.pk} (private incident: on its timeline only).",
        f"#{private.pk} is now in Judge.",
        f"#{private.pk} is now in Recover.",
    ]
    private.refresh_from_db()
    assert private.stage == "recover"
    update = StatusUpdate.objects.get(incident=private, kind="manual")
    assert update.message == MARKERS["update"] and deliveries_of(private) == 0
    drain()
    assert_no_marker(world)


# ---- Alertmanager ----------------------------------------------------------------


def _notification(*fingerprints: str, status: str = "firing") -> dict:
    alerts = [
        {
            "status": status,
            "labels": {"alertname": "DiskFull", "severity": "critical"},
            "annotations": {"summary": "disk above 95%"},
            "startsAt": "2026-11-23T01:00:00Z",
            "fingerprint": fingerprint,
        }
        for fingerprint in fingerprints
    ]
    return {
        "version": "4",
        "groupKey": '{}:{alertname="DiskFull"}',
        "status": status,
        "receiver": "keel",
        "groupLabels": {"alertname": "DiskFull"},
        "commonLabels": {"alertname": "DiskFull", "severity": "critical"},
        "commonAnnotations": {"summary": "disk above 95%"},
        "externalURL": "http://alertmanager.local",
        "alerts": alerts,
    }


def test_alertmanager_never_reveals_or_changes_an_incident_its_caller_cannot_see(world, as_user):
    rita, oscar = as_user(world.rita), as_user(world.oscar)
    declared = rita.post(ALERTMANAGER, _notification("a1"), format="json").json()
    AlertSource.objects.filter(is_default=True).update(resolve_hold_seconds=0)  # no flap hold
    private = Incident.objects.get(pk=declared["incident"])
    incident_services.incident_update(
        incident=private,
        actor=world.rita,
        data={"title": MARKERS["title"], "private": True},
    )
    events = private.events.count()

    # A responder who may not see it: the group is a new one of their own.
    first = oscar.post(ALERTMANAGER, _notification("a1", "a2"), format="json")
    again = oscar.post(ALERTMANAGER, _notification("a1", "a2"), format="json")
    resolved = oscar.post(ALERTMANAGER, _notification("a1", "a2", status="resolved"), format="json")

    assert first.status_code == 200 and first.json()["action"] == "declared"
    own = Incident.objects.get(pk=first.json()["incident"])
    assert own.pk != private.pk and own.created_by == world.oscar and not own.private
    assert (again.json()["action"], again.json()["incident"]) == ("unchanged", own.pk)
    assert (resolved.json()["action"], resolved.json()["incident"]) == ("recovered", own.pk)
    for response in (first, again, resolved):
        answer = {k: v for k, v in response.json().items() if k != "alerts"}  # counts: digits
        assert str(private.pk) not in json.dumps(answer).replace(str(own.pk), "")
        assert MARKERS["title"] not in response.content.decode()
    private.refresh_from_db()
    assert private.stage == "detect" and private.events.count() == events
    own.refresh_from_db()
    assert own.stage == "recover" and MARKERS["title"] not in own.title

    # The participant's Alertmanager still drives the private incident.
    noted = rita.post(ALERTMANAGER, _notification("a1", "a3"), format="json")
    assert (noted.json()["action"], noted.json()["incident"]) == ("noted", private.pk)
    assert private.events.count() == events + 1
    drain()
    assert_no_marker(world)
    # Announced while public, sent after it turned private: withheld at send time too.
    skipped = Delivery.objects.filter(update__incident=private)
    assert skipped.exists() and {d.status for d in skipped} == {Delivery.Status.SKIPPED}


# ---- feeds and the public status documents --------------------------------------


def test_no_feed_or_public_document_names_a_private_incident(world, settings, tmp_path):
    settings.STATUSPAGE_SNAPSHOT_DIR = tmp_path / "snapshot"
    private = _recovered(world, private=True, title=MARKERS["title"])
    _routed_update(world, private)
    release = snapshot.snapshot_publish()

    files = {
        p.relative_to(release).as_posix(): p.read_bytes() for p in release.rglob("*") if p.is_file()
    }
    assert {"status/feed.rss", "status/feed.atom", "api/v2/summary.json"} <= set(files)
    client = Client()
    served = {}
    for rel in files:
        if rel == "manifest.json":
            continue
        response = client.get("/" + rel.removesuffix("index.html"))
        assert response.status_code == 200, rel
        served[rel] = response.content
    for name, marker in MARKERS.items():
        for where, body in {**files, **served}.items():
            assert marker.encode() not in body, f"private {name} in {where}"
    drain()
    assert_no_marker(world)


# ---- what a participant still gets -------------------------------------------------


def test_a_participant_addressing_audiences_tells_exactly_those(world, admin_user):
    private = declare(world, private=True, title=MARKERS["title"])
    update = notification_services.update_post(
        incident=private, message="Rotating the keys.", actor=world.rita, audiences=["cs"]
    )
    assert [a.slug for a in update.audiences.all()] == ["cs"]
    told = Delivery.objects.filter(update=update)
    assert set(told.values_list("destination__audience__slug", flat=True)) == {"cs"}
    assert drain() == 3  # CS's Slack channel, list and webhook
    assert Delivery.objects.filter(update=update, status=Delivery.Status.SENT).count() == 3
    assert any("Rotating the keys." in m.body for m in mail.outbox if m.to == ["cs@example.test"])
    assert all(m.to == ["cs@example.test"] for m in mail.outbox)  # nobody else was told anything

    by_admin = notification_services.update_post(
        incident=private, message="Admin note.", actor=admin_user, audiences=["business"]
    )
    assert [a.slug for a in by_admin.audiences.all()] == ["business"]
    assert Delivery.objects.filter(update=by_admin).count() == 3
