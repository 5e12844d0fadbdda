"""User text is escaped for where it goes: Slack's ``&``/``<``/``>`` rule in message
text and mrkdwn (so ``<!channel>``, ``<@U…>`` and disguised links show literally),
and HTML escaped exactly once in the feeds' HTML summaries."""

import html
import xml.etree.ElementTree as ET

import pytest
from django.test import Client

from incidents import services as incident_services
from incidents import visibility
from incidents.models import TimelineEvent
from notifications import outbox
from notifications import services as notification_services
from notifications.models import Delivery, Destination
from notifications.slack import blocks
from statuspage import snapshot
from tests.factories.incidents import UserFactory, severity
from tests.factories.notifications import DestinationFactory, audience
from tests.fakes.slack import SIGNING_SECRET, FakeSlackServer, command_body, signed_post

HOSTILE = "<!channel> & <@U0BOSS> see <http://evil.example|the runbook>"
ESCAPED = "&lt;!channel&gt; &amp; &lt;@U0BOSS&gt; see &lt;http://evil.example|the runbook&gt;"
ATOM = "{http://www.w3.org/2005/Atom}"


# ---- Slack: the pure builders ------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain", "plain"),
        ("a & b", "a &amp; b"),
        ("<!here>", "&lt;!here&gt;"),
        ("&lt; already", "&amp;lt; already"),  # user text is text: escaped again, shown as typed
        (HOSTILE, ESCAPED),
    ],
)
def test_slack_escape_follows_slacks_three_character_rule(raw, escaped):
    assert blocks.escape(raw) == escaped


def _payload(**overrides) -> dict:
    return {
        "id": 7,
        "title": HOSTILE,
        "severity": "SEV2",
        "stage": "detect",
        "stage_label": "Detect",
        "closed": False,
        "commander": "Mallory <!everyone>",
        "services": "api & <#C0SECRET>",
        "url": "http://keel.example/incidents/7/",
        **overrides,
    }


def test_announcement_escapes_every_user_text_in_text_and_mrkdwn():
    text, payload = blocks.announcement(incident=_payload())

    assert text == f"SEV2 · Detect — #7 {ESCAPED}"
    fields = {f["text"].split("\n")[0]: f["text"] for f in payload[1]["fields"]}
    assert fields["*Commander*"] == "*Commander*\nMallory &lt;!everyone&gt;"
    assert fields["*Services*"] == "*Services*\napi &amp; &lt;#C0SECRET&gt;"
    # plain_text is not parsed for mentions or links: the title is shown as typed.
    assert payload[0]["text"] == {"type": "plain_text", "text": f"#7 {HOSTILE}"}
    every_mrkdwn = text + "".join(f["text"] for f in payload[1]["fields"])
    assert "<!" not in every_mrkdwn and "<@" not in every_mrkdwn and "<http" not in every_mrkdwn
    # Keel's own link still works: the button's URL is untouched.
    (open_button,) = [e for e in payload[2]["elements"] if e["action_id"] == "open_incident"]
    assert open_button["url"] == "http://keel.example/incidents/7/"


def test_thread_reply_escapes_the_rendered_text_and_keeps_keels_formatting():
    rendered = f"[SEV2] {HOSTILE} — Detect\nhttp://keel.example/incidents/7/?a=1&b=2"
    text, payload = blocks.update_reply(text=rendered, next_update="14:30 UTC")

    assert text == (
        f"[SEV2] {ESCAPED} — Detect\nhttp://keel.example/incidents/7/?a=1&amp;b=2"
        "\n_Next update by 14:30 UTC_"
    )
    assert payload[0]["text"] == {"type": "mrkdwn", "text": text}


# ---- Slack: through the outbox to the fake Slack, and slash-command answers ------


@pytest.fixture
def fake_slack(settings):
    with FakeSlackServer() as server:
        settings.SLACK_BOT_TOKEN = "xoxb-test-token"
        settings.SLACK_API_BASE_URL = server.base_url
        settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
        settings.KEEL_OUTBOUND_TIMEOUT_SECONDS = 1
        yield server.fake


@pytest.mark.django_db
def test_hostile_title_and_message_reach_slack_escaped(fake_slack):
    rita = UserFactory(username="rita", role="responder", first_name="<!channel>")
    DestinationFactory(audience=audience("responders"), kind=Destination.Kind.SLACK)
    incident = incident_services.incident_declare(
        title=HOSTILE, severity=severity("SEV3"), actor=rita
    )
    update = notification_services.update_post(
        incident=incident, message=f"Update: {HOSTILE}", actor=rita, audiences=["responders"]
    )
    for delivery in Delivery.objects.filter(update__incident=incident).order_by("created_at"):
        assert outbox.delivery_attempt(delivery.pk).status == Delivery.Status.SENT

    root, reply = fake_slack.posted()[0], fake_slack.posted()[-1]
    assert root["text"].endswith(f"#{incident.pk} {ESCAPED}")
    assert f"Update: {ESCAPED}" in reply["text"]
    for message in fake_slack.posted():
        mrkdwn = [message["text"]] + [
            item["text"]
            for block in message.get("blocks", [])
            for item in [block.get("text") or {}, *block.get("fields", [])]
            if item.get("type") == "mrkdwn"
        ]
        for text in mrkdwn:
            assert "<!channel>" not in text and "<@U0BOSS>" not in text, text
            assert "<http://evil.example|" not in text, text
    # The stored text stays as the user wrote it: escaping is Slack's, at the edge.
    assert HOSTILE in update.deliveries.get().rendered_text


@pytest.mark.django_db
def test_slash_command_answers_are_escaped(client, fake_slack):
    body = command_body("stage 4 <!channel>", user="UHOSTILE")
    response = signed_post(client, "/integrations/slack/commands/", body)

    assert response.status_code == 200
    text = response.json()["text"]
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text


# ---- feeds ---------------------------------------------------------------------


@pytest.fixture
def hostile_feed(settings, tmp_path, monkeypatch):
    from statuspage import tasks as statuspage_tasks

    settings.STATUSPAGE_SNAPSHOT_DIR = tmp_path / "snapshot"
    monkeypatch.setattr(
        statuspage_tasks.statuspage_publish_snapshot_task, "delay", lambda *a, **k: None
    )
    rita = UserFactory(username="rita", role="responder")
    incident = incident_services.incident_declare(
        title="Internal", severity=severity("SEV2"), actor=rita
    )
    message = "<script>alert(1)</script> & <b>bold</b>\nsecond line"
    update = notification_services.update_post(
        incident=incident,
        message=message,
        actor=rita,
        audiences=["public"],
        public_status="investigating",
        public_title="API <errors> & more",
    )
    delivery = update.deliveries.get(destination__kind=Destination.Kind.STATUSPAGE)
    assert outbox.delivery_attempt(delivery.pk).status == Delivery.Status.SENT
    snapshot.snapshot_publish()
    return message


@pytest.mark.django_db
def test_rss_description_is_html_with_the_message_escaped_once(hostile_feed):
    response = Client().get("/status/feed.rss")
    (item,) = ET.fromstring(response.content).find("channel").findall("item")

    assert item.findtext("title") == "API <errors> & more"  # plain text, XML-escaped only
    description = item.findtext("description")  # the HTML a reader renders
    assert "<script>" not in description and "<b>" not in description
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in description
    assert "<br>" in description  # line breaks kept as HTML
    shown = html.unescape(description.replace("<br>\n", "\n"))
    assert "<script>alert(1)</script> & <b>bold</b>\nsecond line" in shown


@pytest.mark.django_db
def test_atom_summary_is_html_with_the_message_escaped_once(hostile_feed):
    response = Client().get("/status/feed.atom")
    entry = ET.fromstring(response.content).find(f"{ATOM}entry")
    summary = entry.find(f"{ATOM}summary")

    assert summary.get("type") == "html"
    assert "<script>" not in summary.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in summary.text
    assert entry.findtext(f"{ATOM}title") == "API <errors> & more"


# ---- the visibility rule itself --------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "kind", "source", "addressed", "told"),
    [
        ("creator", "manual", "web", True, True),
        ("creator", "manual", "api", True, True),
        ("creator", "manual", "slack", True, True),
        ("admin", "manual", "web", True, True),
        ("creator", "manual", "web", False, False),  # routing chose: never for private
        ("creator", "manual", "system", True, False),
        ("creator", "manual", "alert", True, False),
        ("creator", "reminder", "web", True, False),
        ("creator", "declared", "web", True, False),
        ("creator", "stage", "web", True, False),
        ("creator", "severity", "web", True, False),
        ("creator", "manual", "something-new", True, False),
        ("outsider", "manual", "web", True, False),
        ("nobody", "manual", "web", True, False),
        ("nobody", "reminder", "system", True, False),
    ],
)
def test_who_may_tell_audiences_about_a_private_incident(who, kind, source, addressed, told):
    creator = UserFactory(username="rita", role="responder")
    people = {
        "creator": creator,
        "admin": UserFactory(username="ada", role="admin"),
        "outsider": UserFactory(username="oscar", role="responder"),
        "nobody": None,
    }
    private = incident_services.incident_declare(
        title="Leak", severity=severity("SEV1"), actor=creator, private=True
    )
    public = incident_services.incident_declare(
        title="Public", severity=severity("SEV1"), actor=creator
    )
    facts = {"kind": kind, "actor": people[who], "source": source, "addressed": addressed}

    assert visibility.may_tell_audiences(incident=private, **facts) is told
    assert visibility.may_tell_audiences(incident=public, **facts) is True


def test_human_sources_are_the_people_facing_ones():
    assert {
        TimelineEvent.Source.WEB,
        TimelineEvent.Source.API,
        TimelineEvent.Source.SLACK,
    } == visibility.HUMAN_SOURCES
