"""A real worker, a real SMTP server whose AUTH refuses: a public update to 20
email subscribers pauses the email channel after one SMTP connection and holds
every message (none dead); once the password works, Resume delivers each
message exactly once."""

import time

import pytest
from django.utils import timezone

from incidents import services as incident_services
from notifications import services as notification_services
from notifications.models import ChannelPause
from statuspage.subscriber_models import Subscriber, SubscriberNotification
from tests.factories.incidents import severity
from tests.fakes.smtp import SmtpServer
from tests.integration.conftest import wait_for
from tests.integration.faults import record_fault

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
SUBSCRIBERS = 20
Status = SubscriberNotification.Status


def _statuses() -> list[str]:
    return list(SubscriberNotification.objects.values_list("status", flat=True))


def test_smtp_credential_failure_pauses_after_one_call_and_resume_delivers_each_once(
    start_worker, responder, admin_user
):
    with SmtpServer() as smtp:
        addresses = [f"reader{n}@example.test" for n in range(SUBSCRIBERS)]
        for address in addresses:
            Subscriber.objects.create(kind="email", email=address, confirmed_at=timezone.now())
        incident = incident_services.incident_declare(
            title="Checkout 502s", severity=severity("SEV2"), actor=responder
        )
        start_worker(env=smtp.settings())

        notification_services.update_post(
            incident=incident,
            message="We are investigating errors at checkout.",
            actor=responder,
            audiences=["public"],
            public_status="investigating",
            public_title="Checkout errors",
        )

        def all_held():
            statuses = _statuses()
            return len(statuses) == SUBSCRIBERS and set(statuses) == {Status.FAILED}

        wait_for(all_held, timeout=60, what="every subscriber message held by the pause")
        pause = ChannelPause.objects.get(kind="email")
        assert "SMTP authentication failed" in pause.reason
        assert len(smtp.connections_tried_auth) == 1
        assert smtp.messages == []
        held = SubscriberNotification.objects.exclude(last_error="")
        assert held.count() == SUBSCRIBERS  # each says why it waits

        dead = SubscriberNotification.objects.filter(status=Status.DEAD).count()
        calls_while_refused = len(smtp.connections_tried_auth)

        smtp.accept_logins = True  # the password is fixed
        resumed = time.monotonic()
        assert notification_services.channel_resume(kind="email", actor=admin_user) == SUBSCRIBERS

        def all_sent():
            return set(_statuses()) == {Status.SENT} and len(smtp.messages) >= SUBSCRIBERS

        wait_for(all_sent, timeout=60, what="every subscriber message sent after Resume")
        recovery = time.monotonic() - resumed
        # Sent rows are never claimed again: a repeated task or a sweep finds them sent.

    assert sorted(smtp.recipients()) == sorted(addresses)
    assert len(set(smtp.message_ids())) == SUBSCRIBERS
    assert all(message["List-Unsubscribe"] for message in smtp.messages)
    assert not ChannelPause.objects.exists()
    record_fault(
        "subscriber_smtp_auth_refused",
        injected=1,
        writes_during_fault=SUBSCRIBERS,
        lost=SUBSCRIBERS - len(set(smtp.recipients())),
        duplicated=len(smtp.messages) - len(set(smtp.message_ids())),
        api={
            "SMTP connections while refused": f"{calls_while_refused} (email paused after it)",
            "subscriber messages dead": str(dead),
            "Resume": f"{SUBSCRIBERS} held messages re-enqueued",
        },
        recovery_seconds=round(recovery, 1),
    )
