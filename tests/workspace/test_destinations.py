"""Settings → Audiences and destinations, and the test sends on the delivery engine."""

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from notifications.models import ChannelPause, Destination
from tests.factories.notifications import DestinationFactory, audience
from workspace import services
from workspace.destination_test_sends import destination_test_send_attempt
from workspace.models import DestinationTestSend

pytestmark = pytest.mark.django_db


def _test(admin_client, destination, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(reverse("settings-destination-test", args=[destination.pk]))
    assert response.status_code == 302
    assert len(callbacks) == 1  # the send leaves after commit, through a worker
    return DestinationTestSend.objects.get(destination=destination)


def test_send_test_to_a_slack_channel_goes_through_the_engine(
    admin_client, slack_unconfigured, settings, django_capture_on_commit_callbacks
):
    settings.SLACK_BOT_TOKEN = "xoxb-env-token-0000"
    destination = DestinationFactory(target="#incidents", name="Slack #incidents")
    row = _test(admin_client, destination, django_capture_on_commit_callbacks)
    assert slack_unconfigured.posted() == []  # nothing sent on the request path

    assert destination_test_send_attempt(row.pk).status == "sent"

    (message,) = slack_unconfigured.posted("C0INCIDENTS")
    assert message["text"].startswith("Test message from Keel")
    row.refresh_from_db()
    assert row.external_id == message["ts"]
    assert [h.history_change_reason for h in row.history.order_by("history_id")] == [
        "test requested",
        "attempt 1",
        "sent",
    ]
    log = admin_client.get(reverse("settings-destinations")).content.decode()
    assert f'data-test-send="{row.pk}"' in log and "Sent" in log


def test_a_retried_slack_test_is_not_posted_twice(
    slack_unconfigured, settings, admin_user, django_capture_on_commit_callbacks
):
    settings.SLACK_BOT_TOKEN = "xoxb-env-token-0000"
    destination = DestinationFactory(target="C0INCIDENTS")
    row = services.destination_test_send(destination=destination, actor=admin_user)
    assert destination_test_send_attempt(row.pk).status == "sent"
    # As if the answer had been lost: the row is due again with one attempt behind it.
    DestinationTestSend.objects.filter(pk=row.pk).update(status="failed")
    assert destination_test_send_attempt(row.pk).status == "sent"
    assert len(slack_unconfigured.posted()) == 1


def test_send_test_email_is_marked_as_a_test(
    admin_client, slack_unconfigured, django_capture_on_commit_callbacks
):
    destination = DestinationFactory(
        audience=audience("cs"), kind="email", target="cs@keel.test, lead@keel.test", name="CS list"
    )
    row = _test(admin_client, destination, django_capture_on_commit_callbacks)
    assert destination_test_send_attempt(row.pk).status == "sent"
    (message,) = mail.outbox
    assert message.to == ["cs@keel.test", "lead@keel.test"]
    assert message.subject == f"[Keel] Test message for {destination.audience.name}"
    assert message.extra_headers["X-Keel-Test"] == "1"
    assert "No incident is behind it." in message.body


def test_a_test_to_a_paused_channel_says_why(
    admin_client, slack_unconfigured, django_capture_on_commit_callbacks
):
    ChannelPause.objects.create(kind="slack", reason="Slack invalid_auth", paused_at=timezone.now())
    row = _test(admin_client, DestinationFactory(), django_capture_on_commit_callbacks)
    assert destination_test_send_attempt(row.pk).status == "failed"
    row.refresh_from_db()
    assert row.last_error == "Slack channel paused: Slack invalid_auth"


def test_add_destination_with_field_level_errors(admin_client, slack_unconfigured):
    url = reverse("settings-destinations")
    bad = [
        ({"kind": "email", "target": "cs@keel.test, not-an-address"}, "target", "not an email"),
        ({"kind": "slack", "target": "incidents channel"}, "target", "#name"),
        ({"kind": "webhook", "target": "ftp://example.com/x"}, "target", "http(s)"),
        ({"kind": "slack", "target": "#x" * 300}, "target", "at most 500"),
        ({"kind": "carrier-pigeon", "target": "#incidents"}, "kind", "valid choice"),
    ]
    for fields, field, message in bad:
        data = {"audience": "cs", "name": "New", **fields}
        response = admin_client.post(url, data)
        assert response.status_code == 400, fields
        errors = response.context["form"].errors
        assert field in errors and message in " ".join(errors[field]), (fields, errors)
    response = admin_client.post(
        url, {"audience": "cs", "kind": "email", "name": "CS list", "target": "cs@keel.test"}
    )
    assert response.status_code == 302
    again = admin_client.post(
        url, {"audience": "cs", "kind": "email", "name": "Twice", "target": "cs@keel.test"}
    )
    assert "already reaches" in " ".join(again.context["form"].errors["target"])


def test_webhook_secret_is_shown_once_and_rotatable(admin_client, slack_unconfigured, settings):
    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = False
    response = admin_client.post(
        reverse("settings-destinations"),
        {
            "audience": "business",
            "kind": "webhook",
            "name": "BI hook",
            "target": "https://hooks.example.com/keel",
        },
    )
    destination = Destination.objects.get(name="BI hook")
    first = destination.secret
    assert first in response.content.decode()
    assert "Cache-Control" in response and "no-store" in response["Cache-Control"]
    assert first not in admin_client.get(reverse("settings-destinations")).content.decode()

    rotated = admin_client.post(
        reverse("settings-destination-rotate-secret", args=[destination.pk])
    )
    destination.refresh_from_db()
    assert destination.secret != first and destination.secret in rotated.content.decode()
    assert destination.history.first().history_change_reason == "webhook secret rotated in Settings"


def test_pause_needs_a_reason_and_resume_clears_it(admin_client, slack_unconfigured):
    destination = DestinationFactory(audience=audience("cs"), kind="email", target="cs@keel.test")
    admin_client.post(reverse("settings-destination-pause", args=[destination.pk]), {"reason": ""})
    destination.refresh_from_db()
    assert destination.enabled
    admin_client.post(
        reverse("settings-destination-pause", args=[destination.pk]),
        {"reason": "List being migrated"},
    )
    destination.refresh_from_db()
    assert not destination.enabled and destination.disabled_reason == "List being migrated"
    page = admin_client.get(reverse("settings-destinations")).content.decode()
    assert "List being migrated" in page
    admin_client.post(reverse("settings-destination-resume", args=[destination.pk]))
    destination.refresh_from_db()
    assert destination.enabled and destination.disabled_reason == ""
    reasons = [h.history_change_reason for h in destination.history.order_by("history_id")]
    assert reasons[-2:] == ["paused in Settings", "resumed in Settings"]


def test_destinations_page_makes_a_fixed_number_of_queries(
    admin_client, slack_unconfigured, django_assert_max_num_queries, admin_user
):
    for n in range(5):
        destination = DestinationFactory(
            audience=audience("cs"), kind="email", target=f"l{n}@k.test"
        )
        services.destination_test_send(destination=destination, actor=admin_user)
    with django_assert_max_num_queries(12):
        admin_client.get(reverse("settings-destinations"))


def test_a_paused_email_channel_is_resumed_from_settings(
    admin_client, slack_unconfigured, django_capture_on_commit_callbacks
):
    ChannelPause.objects.create(
        kind="email", reason="SMTP authentication failed", paused_at=timezone.now()
    )
    page = admin_client.get(reverse("settings-email")).content.decode()
    assert "SMTP authentication failed" in page and "Resume Email list" in page
    with django_capture_on_commit_callbacks(execute=False):
        response = admin_client.post(reverse("settings-channel-resume", args=["email"]))
    assert response.status_code == 302
    assert not ChannelPause.objects.filter(kind="email").exists()
    assert admin_client.post(reverse("settings-channel-resume", args=["nope"])).status_code == 404


def test_edit_a_destination_with_field_level_errors(admin_client, slack_unconfigured):
    destination = DestinationFactory(audience=audience("cs"), kind="email", target="cs@keel.test")
    DestinationFactory(
        audience=audience("cs"), kind="email", target="other@keel.test", name="Other"
    )
    url = reverse("settings-destination-edit", args=[destination.pk])
    assert 'value="cs@keel.test"' in admin_client.get(url).content.decode()
    for target, message in [("nobody", "not an email"), ("other@keel.test", "already reaches")]:
        response = admin_client.post(url, {"name": "CS", "target": target})
        assert response.status_code == 400
        assert message in " ".join(response.context["form"].errors["target"])
    response = admin_client.post(url, {"name": "CS desk", "target": "desk@keel.test"})
    assert response.status_code == 302
    destination.refresh_from_db()
    assert (destination.name, destination.target) == ("CS desk", "desk@keel.test")
    assert destination.history.first().history_change_reason == "edited in Settings"


def test_send_test_to_a_webhook_is_signed_and_keeps_its_contract(
    admin_client, slack_unconfigured, settings, django_capture_on_commit_callbacks
):
    from notifications.models import Destination as DestinationModel
    from tests.fakes.webhooks import WebhookReceiver

    settings.KEEL_WEBHOOKS_ALLOW_PRIVATE = True
    with WebhookReceiver(secret=DestinationModel.new_secret()) as receiver:
        destination = DestinationFactory(
            audience=audience("business"),
            kind="webhook",
            target=receiver.url,
            secret=receiver.secret,
        )
        row = _test(admin_client, destination, django_capture_on_commit_callbacks)
        assert destination_test_send_attempt(row.pk).status == "sent"
    (event,) = receiver.by_id.values()
    assert event["id"] == str(row.pk)
    body = event["body"]
    assert body["type"] == "destination.test"
    assert body["data"]["destination"] == {
        "id": destination.pk,
        "name": destination.name,
        "audience": "business",
    }
    assert receiver.bad_signatures == 0
