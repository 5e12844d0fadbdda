"""Team email: subject and text rendered together when the update is written, one
thread per incident and list, the list headers, wording without empty placeholders,
and the real headers through a real SMTP server (aiosmtpd)."""

import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller
from django.core import mail

from incidents import services as incident_services
from notifications import outbox, rendering, services
from notifications.channels import email as email_channel
from notifications.models import Audience, Delivery, Destination
from notifications.slack import blocks
from tests.factories.incidents import ServiceFactory, severity
from tests.factories.notifications import DestinationFactory, audience

pytestmark = pytest.mark.django_db


@pytest.fixture
def cs_list(db):
    return DestinationFactory(
        audience=audience("cs"), kind=Destination.Kind.EMAIL, name="CS list", target="cs@x.test"
    )


@pytest.fixture
def incident(responder, cs_list):
    return incident_services.incident_declare(
        title="Checkout 502s",
        severity=severity("SEV2"),
        services=[ServiceFactory(name="Checkout API")],
        actor=responder,
    )


def cs_update(incident, actor, message, **fields):
    update = services.update_post(
        incident=incident, message=message, actor=actor, audiences=["cs"], **fields
    )
    return update.deliveries.get()


def test_a_retry_sends_what_was_written_then_not_what_the_incident_is_now(
    settings, responder, incident
):
    settings.DEFAULT_FROM_EMAIL = "keel@keel.test"
    incident = incident_services.incident_move(incident=incident, to="judge", actor=responder)
    delivery = cs_update(incident, responder, "Rolling back v2.41.")
    assert delivery.rendered_subject == f"Re: [SEV2] #{incident.pk} Checkout 502s"

    # Before the worker gets to it, the incident moves on and is renamed.
    incident = incident_services.incident_move(incident=incident, to="recover", actor=responder)
    incident_services.incident_update(
        incident=incident, actor=responder, data={"title": "Checkout fixed"}
    )
    assert outbox.delivery_attempt(delivery.pk).status == Delivery.Status.SENT

    (sent,) = [m for m in mail.outbox if m.extra_headers["X-Keel-Delivery"] == str(delivery.pk)]
    assert sent.subject == f"Re: [SEV2] #{incident.pk} Checkout 502s"
    assert "Rolling back v2.41." in sent.body and "Checkout fixed" not in sent.body


def test_the_incidents_mail_to_a_list_threads_under_its_first_message(
    settings, responder, incident, cs_list
):
    settings.DEFAULT_FROM_EMAIL = "Keel <keel@keel.test>"
    first = Delivery.objects.get(update__incident=incident, destination=cs_list)  # declared
    later = cs_update(incident, responder, "Rolling back.")
    other_list = DestinationFactory(audience=audience("business"), kind=Destination.Kind.EMAIL)
    business = services.update_post(
        incident=incident, message="Heads-up.", actor=responder, audiences=["business"]
    ).deliveries.get(destination=other_list)

    assert first.thread_root is None and first.rendered_subject.startswith("[SEV2]")
    assert later.thread_root_id == first.pk and later.rendered_subject.startswith("Re: ")
    assert business.thread_root is None  # the business list's own first message

    for delivery in (first, later):
        assert outbox.delivery_attempt(delivery.pk).status == Delivery.Status.SENT
    root, reply = mail.outbox
    root_id = f"<delivery-{first.pk}@keel.test>"
    assert root.extra_headers["Message-ID"] == root_id
    assert "In-Reply-To" not in root.extra_headers
    assert reply.extra_headers["In-Reply-To"] == root_id
    assert reply.extra_headers["References"] == root_id
    for message in (root, reply):
        assert message.extra_headers["List-Id"] == "CS team <cs.incidents.keel.test>"
        assert message.extra_headers["Auto-Submitted"] == "auto-generated"
        assert "Precedence" not in message.extra_headers


def test_the_thread_root_is_the_first_email_that_was_to_be_sent_however_many_updates(
    responder, incident, cs_list
):
    """A skipped first email (its list was disabled) roots nothing; the first one sent
    roots every later one, after any number of updates; other channels have no root."""
    declared = Delivery.objects.get(update__incident=incident, destination=cs_list)
    Delivery.objects.filter(pk=declared.pk).update(status=Delivery.Status.SKIPPED)
    slack = DestinationFactory(audience=audience("cs"), kind=Destination.Kind.SLACK)
    root = services.update_post(
        incident=incident, message="Rolling back.", actor=responder, audiences=["cs"]
    ).deliveries.get(destination=cs_list)
    assert root.thread_root is None
    for n in range(5):
        later = services.update_post(
            incident=incident, message=f"Update {n}.", actor=responder, audiences=["cs"]
        )
        assert later.deliveries.get(destination=cs_list).thread_root_id == root.pk
        assert later.deliveries.get(destination=slack).thread_root_id is None


def test_wording_never_prints_an_empty_placeholder(responder, cs_list):
    bare = incident_services.incident_declare(
        title="Search is slow", severity=severity("SEV3"), actor=responder
    )
    text = cs_update(bare, responder, "Looking into it.").rendered_text
    assert "()" not in text and "Next update by" not in text and "—" not in text
    # No feature or service named: the impact line has nothing to say and is left out.
    assert text.splitlines() == [
        "Looking into it.",
        f"Internal incident: {rendering.incident_url(bare.pk)}",
    ]

    business = rendering.render(bare.status_updates.first(), Audience.objects.get(slug="business"))
    assert "Services:" not in business and "—\n" not in business
    _, root_blocks = blocks.announcement(
        incident={
            "id": bare.pk,
            "title": bare.title,
            "severity": "SEV3",
            "stage": "detect",
            "stage_label": "Detect",
            "closed": False,
            "commander": "Rita",
            "services": "",
            "url": "http://x/",
        }
    )
    fields = [f["text"] for f in root_blocks[1]["fields"]]
    assert not any(f.startswith("*Services*") for f in fields)


def test_filled_placeholders_are_printed(responder, incident):
    from datetime import timedelta

    from django.utils import timezone

    promise = timezone.now() + timedelta(minutes=30)
    incident = incident_services.incident_update(
        incident=incident, actor=responder, data={"affected_features": "payments"}
    )
    update = services.update_post(
        incident=incident,
        message="Rolling back.",
        actor=responder,
        audiences=["cs"],
        next_update_at=promise,
    )
    text = update.deliveries.get().rendered_text
    assert text.startswith("Customer impact: payments\nRolling back.\nNext update by ")
    assert rendering.context_for(update)["next_update"] in text


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.SMTP))
        return "250 OK"


@pytest.fixture
def smtp_server(settings):
    inbox = _Inbox()
    with socket.socket() as probe:  # a free port: aiosmtpd checks it by connecting
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield inbox
    finally:
        controller.stop()


def test_the_headers_as_a_real_smtp_server_receives_them(
    settings, smtp_server, responder, incident, cs_list
):
    settings.DEFAULT_FROM_EMAIL = "keel@keel.test"
    first = Delivery.objects.get(update__incident=incident, destination=cs_list)
    later = cs_update(incident, responder, "Rolling back.")

    results, fallback = outbox.deliveries_attempt_batch([str(first.pk), str(later.pk)])
    assert fallback == [] and {r.status for _, r in results} == {Delivery.Status.SENT}

    received = {m["X-Keel-Delivery"]: m for m in smtp_server.messages}
    root, reply = received[str(first.pk)], received[str(later.pk)]
    root_id = email_channel.message_id_for(str(first.pk))
    assert root["Message-ID"] == root_id and root["In-Reply-To"] is None
    assert reply["Message-ID"] == email_channel.message_id_for(str(later.pk))
    assert reply["In-Reply-To"] == root_id and reply["References"] == root_id
    assert root["Subject"] == f"[SEV2] #{incident.pk} Checkout 502s"
    assert reply["Subject"] == f"Re: [SEV2] #{incident.pk} Checkout 502s"
    for message in (root, reply):
        assert message["List-Id"] == "CS team <cs.incidents.keel.test>"
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["X-Auto-Response-Suppress"] == "All"
        assert message["Precedence"] is None
        assert message["To"] == "cs@x.test"
